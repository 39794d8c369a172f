# Telekonf: one image for the service. Browser libraries come from npm at build time.
FROM node:20-bookworm-slim AS browser-libs
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    TELEKONF_HTTP_HOST=0.0.0.0 TELEKONF_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY gateway ./gateway
COPY static ./static
# Editable: the service finds static/ and node_modules/ beside its code in /app.
RUN pip install --no-cache-dir -e .
COPY --from=browser-libs /build/node_modules/socket.io-client/dist ./node_modules/socket.io-client/dist
COPY --from=browser-libs /build/node_modules/libphonenumber-js/bundle ./node_modules/libphonenumber-js/bundle
RUN useradd --system --home /data telekonf && mkdir -p /data && chown telekonf /data
USER telekonf
VOLUME /data
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["telekonf", "serve"]
