"""Recording a conference: its mix, 20 ms at a time, into an Ogg/Opus file.

Encoding and writing a file can block (a slow or full disk), and the media clock
must never wait for either. So the engine only hands each tick's frame to a
:class:`Recorder`, a bounded queue drained by a thread of its own; that thread
alone touches the :class:`OggOpusWriter` and its PyAV container.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fractions
import logging
import os
import queue
import threading
from collections.abc import Callable

import av
import numpy as np

from .mixer import FRAME_SAMPLES, SAMPLE_RATE, Int16Array

logger = logging.getLogger(__name__)

PART_SUFFIX = ".part"


class OggOpusWriter:
    """Opus (48 kHz mono) in an Ogg file, frame by frame; blocking, so keep it off the loop.

    It writes to ``path + ".part"`` and renames that to ``path`` only in :meth:`close`,
    so a file under the real name is always complete; a crash leaves just the ``.part``.
    """

    def __init__(self, path: str | os.PathLike[str], *, bitrate: int = 32000) -> None:
        self.path = os.fspath(path)
        self.part_path = self.path + PART_SUFFIX
        self.bitrate = bitrate
        #: 20 ms frames written so far
        self.frames = 0
        self._container: av.container.OutputContainer | None = None
        self._stream: av.audio.stream.AudioStream | None = None

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_SAMPLES / SAMPLE_RATE

    def open(self) -> None:
        container = av.open(self.part_path, "w", format="ogg")
        try:
            stream = container.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
            stream.codec_context.format = "s16"
            stream.codec_context.bit_rate = self.bitrate
            stream.codec_context.time_base = fractions.Fraction(1, SAMPLE_RATE)
            stream.codec_context.options = {"application": "voip", "frame_duration": "20"}
            # PyAV opens the file lazily; open it now, so that a bad path fails the start.
            container.start_encoding()
        except Exception:
            container.close()
            raise
        self._container, self._stream = container, stream

    def write(self, frame: Int16Array) -> None:
        """Encode one frame of int16 samples (normally 20 ms) and mux what comes out."""
        if self._container is None or self._stream is None:
            raise RuntimeError("the writer is not open")
        pcm = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(frame, dtype=np.int16).reshape(1, -1),
            format="s16",
            layout="mono",
        )
        pcm.sample_rate = SAMPLE_RATE
        pcm.pts = self.frames * FRAME_SAMPLES
        self._container.mux(self._stream.encode(pcm))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder, finish the file and give it its real name."""
        if self._container is None or self._stream is None:
            raise RuntimeError("the writer is not open")
        container, stream = self._container, self._stream
        self._container = self._stream = None
        try:
            container.mux(stream.encode(None))
        finally:
            container.close()
        os.replace(self.part_path, self.path)

    def abort(self) -> None:
        """Give up after an error: close what can be closed, keep the ``.part`` as it is."""
        container, self._container, self._stream = self._container, None, None
        if container is not None:
            try:
                container.close()
            except Exception:
                logger.debug("closing %s after an error failed too", self.part_path, exc_info=True)


_STOP = None  # the queue's end marker (frames are arrays, never None)


class Recorder:
    """One recording: frames in on the clock without blocking, a thread writes them.

    :meth:`offer` is all the media tick does (a non-blocking put); when the writer
    falls ``max_queued`` frames behind, frames are dropped, counted and logged once.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_queued: int = 250,
        writer_factory: Callable[[str], OggOpusWriter] = OggOpusWriter,
    ) -> None:
        self.path = os.fspath(path)
        self.dropped = 0
        self._writer = writer_factory(self.path)
        self._queue: queue.Queue[Int16Array | None] = queue.Queue(maxsize=max_queued)
        self._opened: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name=f"recorder {os.path.basename(self.path)}", daemon=True
        )

    async def start(self) -> None:
        """Start the thread; returns once the file is open, raises if it cannot be."""
        self._thread.start()
        await asyncio.wrap_future(self._opened)

    def offer(self, frame: Int16Array) -> None:
        """Queue one frame; never blocks. The frame must not be written to afterwards."""
        if self._stopping:
            return
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                logger.warning("recording %s: the writer is behind, dropping frames", self.path)

    async def stop(self) -> float:
        """Finish the file (flushed, closed, renamed); the seconds it holds.

        Raises whatever stopped the writer (the file then stays ``.part``).
        """
        self._stopping = True
        seconds = await asyncio.to_thread(self._finish)
        if self.dropped:
            logger.warning("recording %s lost %d frames", self.path, self.dropped)
        return seconds

    def _finish(self) -> float:
        while self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=0.1)
                break
            except queue.Full:
                continue  # the writer is still draining (or stuck: keep trying)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._writer.seconds

    def _run(self) -> None:
        writer = self._writer
        try:
            writer.open()
        except BaseException as exc:
            self._error = exc
            self._opened.set_exception(exc)
            return
        self._opened.set_result(None)
        failed = False
        while (frame := self._queue.get()) is not _STOP:
            if failed:
                continue  # keep draining so the clock's puts never find a full queue
            try:
                writer.write(frame)
            except Exception as exc:
                logger.exception("recording %s failed", self.path)
                self._error, failed = exc, True
                writer.abort()
        if failed:
            return
        try:
            writer.close()
        except Exception as exc:
            logger.exception("recording %s could not be finished", self.path)
            self._error = exc
            writer.abort()
