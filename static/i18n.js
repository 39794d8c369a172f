// Telekonf UI strings in English, German and Slovenian, and a tiny t(key) helper.
// Language: ?lang= query parameter, else the conference's language (when known),
// else the browser's language, else English.

export const LANGUAGES = { en: 'English', de: 'Deutsch', sl: 'Slovenščina' };

const en = {
  'app.tagline': 'Audio conferences for browsers and phones',
  'app.footer': 'Telekonf · open-source audio conference bridge',
  'lang.label': 'Language',

  'error.network': 'Cannot reach the server. Check your connection and try again.',
  'error.generic': 'Something went wrong (HTTP {status}). Please try again.',

  'action.copy': 'Copy',
  'action.copied': 'Copied',
  'action.mute': 'Mute',
  'action.unmute': 'Unmute',
  'action.remove': 'Remove',
  'action.leave': 'Leave',
  'action.cancel': 'Cancel',

  'index.pageTitle': 'Create a conference – Telekonf',
  'index.heading': 'Create a conference',
  'index.lead':
    'Set up an audio conference in seconds. Participants join from a browser or by phone with a PIN.',
  'index.title': 'Title',
  'index.titlePlaceholder': 'Weekly team call',
  'index.organizerName': 'Your name',
  'index.organizerEmail': 'Your e-mail address',
  'index.language': 'Conference language',
  'index.languageHint': 'Used for voice prompts, e-mails and the participants’ pages.',
  'index.submit': 'Create conference',
  'index.submitting': 'Creating…',
  'index.readyHeading': 'Your conference is ready',
  'index.readyLead': 'Share the join link or the participant PIN with everyone you invite.',
  'index.pin': 'Participant PIN',
  'index.moderatorPin': 'Moderator PIN',
  'index.moderatorPinHint': 'Join with this PIN to take part as the organiser.',
  'index.joinLink': 'Join link for participants',
  'index.organizerLink': 'Organiser page',
  'index.organizerLinkHint':
    'Keep this link private: it contains your organiser key. Bookmark it now.',
  'index.openOrganizer': 'Open the organiser page',
  'index.another': 'Create another conference',

  'join.pageTitle': 'Join a conference – Telekonf',
  'join.heading': 'Join a conference',
  'join.lead': 'Enter your name and the PIN from your invitation.',
  'join.name': 'Your name',
  'join.pin': 'PIN',
  'join.submit': 'Join',
  'join.joining': 'Joining…',
  'join.micHint': 'Your browser will ask for access to your microphone.',
  'join.connecting': 'Connecting audio…',
  'join.reconnecting': 'Audio connection interrupted, reconnecting…',
  'join.micDenied':
    'Microphone access was denied. Allow the microphone for this site and try again.',
  'join.micMissing': 'No microphone was found. Connect one and try again.',
  'join.micFailed': 'The microphone could not be started: {message}',
  'join.noWebRTC': 'This browser does not support audio calls (WebRTC).',
  'join.connectFailed': 'The audio connection failed. Please join again.',
  'join.roleOrganizer': 'You are the organiser',
  'join.you': 'you',
  'join.inConference': 'In the conference',
  'join.micOn': 'Your microphone is on',
  'join.micMuted': 'You are muted',
  'join.micLevel': 'Microphone level',
  'join.enableAudio': 'Play conference audio',
  'join.left': 'You left the conference.',
  'join.removed': 'You were removed from the conference.',
  'join.rejoin': 'Join again',
  'join.newJoin': 'Join another conference',
  'join.nobody': 'Nobody else is here yet.',

  'status.scheduled': 'The conference has not started yet.',
  'status.waiting': 'Waiting for the organiser…',
  'status.active': 'The conference is in progress.',
  'status.ended': 'The conference has ended. Thank you.',

  'phone.heading': 'Joining by phone?',
  'phone.intro': 'Use these keypad commands during the call:',
  'phone.everyone': 'Everyone',
  'phone.organizer': 'Organiser only',
  'phone.k6': 'Mute or unmute yourself',
  'phone.k1': 'Help',
  'phone.k5': 'Mute or unmute all participants',
  'phone.k7': 'Lock or unlock the conference',
  'phone.k9': 'Hear the number of participants',

  'org.pageTitle': 'Organiser – Telekonf',
  'org.kicker': 'Organiser',
  'org.pin': 'Participant PIN',
  'org.moderatorPin': 'Moderator PIN',
  'org.joinLink': 'Join link',
  'org.joinAudio': 'Join the audio as organiser',
  'org.muteAll': 'Mute all',
  'org.unmuteAll': 'Unmute all',
  'org.end': 'End conference',
  'org.confirmEndTitle': 'End the conference?',
  'org.confirmEndBody': 'Everyone will be disconnected. This cannot be undone.',
  'org.participants': 'Participants',
  'org.gone': 'Left the call',
  'org.inCall': 'In the call: {n}',
  'org.total': 'Total: {n}',
  'org.empty': 'Nobody has joined yet. Share the join link or the PIN.',
  'org.ended': 'This conference has ended.',
  'org.legend': 'Colour key',
  'org.missingToken':
    'This link is incomplete: the organiser key is missing. Open the organiser link exactly as you received it.',
  'org.loading': 'Loading the conference…',
  'org.joined': 'Joined {time}',
  'org.leftAt': 'Left {time}',
  'org.organizer': 'Organiser',
  'org.unknownCaller': 'Unknown caller',
  'org.actionFailed': 'The action failed: {message}',
  'org.participantLabel': '{name}: {state}',
  'org.startDialOut': 'Start conference (call everyone)',
  'org.startDialOutHint': 'Calls your phone first, then everyone with a phone number.',
  'org.startedDialOut': 'Calling you first, then everyone with a phone number…',
  'org.lock': 'Lock',
  'org.unlock': 'Unlock',
  'org.lockTitle': 'Lock the conference: nobody new can join, except organisers.',
  'org.unlockTitle': 'Unlock the conference: everyone with the PIN can join again.',
  'org.locked': 'Locked',
  'org.lockedHint': 'Nobody new can join, except organisers.',
  'org.accessTitle': 'Dialled access number',

  'action.call': 'Call',
  'action.callAgain': 'Call again',

  'failure.busy': 'Busy',
  'failure.no-answer': 'No answer',
  'failure.rejected': 'Rejected',
  'failure.failed': 'Call failed',
  'failure.unreachable': 'Unreachable',

  'access.premium': 'Premium rate',
  'access.geographic': 'Geographic',
  'access.tollfree': 'Toll-free',

  'dial.heading': 'Add participant',
  'dial.lead': 'Telekonf calls this number now and connects the person to the conference.',
  'dial.name': 'Name',
  'dial.phone': 'Phone number',
  'dial.phonePlaceholder': '+44 20 7946 0123',
  'dial.submit': 'Add and call',
  'dial.nameRequired': 'Enter a name.',
  'dial.adding': 'Calling…',
  'dial.added': '{name} is being called.',
  'dial.empty': 'Enter the number with its country code, e.g. +44 20 7946 0123.',
  'dial.valid': 'Valid number',
  'dial.invalid': 'Not a valid phone number',
  'dial.unchecked': 'The server checks the number when you add it.',
  'dial.TOO_SHORT': 'Too short',
  'dial.TOO_LONG': 'Too long',
  'dial.INVALID_LENGTH': 'Wrong number of digits',
  'dial.INVALID_COUNTRY': 'Unknown country code',
  'dial.NO_COUNTRY': 'Add the country code, starting with +',
  'dial.NOT_A_NUMBER': 'Not a phone number',
  'dial.EXTENSION': 'Extensions cannot be dialled',

  'live.connecting': 'Connecting…',
  'live.online': 'Live',
  'live.offline': 'Reconnecting…',
  'live.failed': 'Live updates are unavailable: {message}',

  'conf.scheduled': 'Scheduled',
  'conf.waiting': 'Waiting',
  'conf.active': 'Active',
  'conf.ended': 'Ended',

  'state.invited': 'Invited',
  'state.ringing': 'Ringing',
  'state.waiting': 'Waiting',
  'state.connected': 'Connected',
  'state.talking': 'Talking',
  'state.muted': 'Muted',
  'state.left': 'Left',
  'state.failed': 'Failed',

  'mode.web': 'Web',
  'mode.dial-in': 'Dial-in',
  'mode.dial-out': 'Dial-out',
};

const de = {
  'app.tagline': 'Audiokonferenzen für Browser und Telefon',
  'app.footer': 'Telekonf · Open-Source-Audiokonferenzbrücke',
  'lang.label': 'Sprache',

  'error.network':
    'Der Server ist nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.',
  'error.generic': 'Etwas ist schiefgelaufen (HTTP {status}). Bitte versuchen Sie es erneut.',

  'action.copy': 'Kopieren',
  'action.copied': 'Kopiert',
  'action.mute': 'Stummschalten',
  'action.unmute': 'Stumm aus',
  'action.remove': 'Entfernen',
  'action.leave': 'Verlassen',
  'action.cancel': 'Abbrechen',

  'index.pageTitle': 'Konferenz erstellen – Telekonf',
  'index.heading': 'Konferenz erstellen',
  'index.lead':
    'Richten Sie in Sekunden eine Audiokonferenz ein. Teilnehmende kommen per Browser oder Telefon mit einer PIN dazu.',
  'index.title': 'Titel',
  'index.titlePlaceholder': 'Wöchentliche Teambesprechung',
  'index.organizerName': 'Ihr Name',
  'index.organizerEmail': 'Ihre E-Mail-Adresse',
  'index.language': 'Konferenzsprache',
  'index.languageHint': 'Für Sprachansagen, E-Mails und die Seiten der Teilnehmenden.',
  'index.submit': 'Konferenz erstellen',
  'index.submitting': 'Wird erstellt…',
  'index.readyHeading': 'Ihre Konferenz ist bereit',
  'index.readyLead': 'Teilen Sie den Beitrittslink oder die Teilnehmer-PIN mit allen Eingeladenen.',
  'index.pin': 'Teilnehmer-PIN',
  'index.moderatorPin': 'Moderator-PIN',
  'index.moderatorPinHint': 'Mit dieser PIN nehmen Sie als Organisator teil.',
  'index.joinLink': 'Beitrittslink für Teilnehmende',
  'index.organizerLink': 'Organisatorseite',
  'index.organizerLinkHint':
    'Halten Sie diesen Link geheim: Er enthält Ihren Organisatorschlüssel. Setzen Sie jetzt ein Lesezeichen.',
  'index.openOrganizer': 'Organisatorseite öffnen',
  'index.another': 'Weitere Konferenz erstellen',

  'join.pageTitle': 'Konferenz beitreten – Telekonf',
  'join.heading': 'Konferenz beitreten',
  'join.lead': 'Geben Sie Ihren Namen und die PIN aus Ihrer Einladung ein.',
  'join.name': 'Ihr Name',
  'join.pin': 'PIN',
  'join.submit': 'Beitreten',
  'join.joining': 'Beitritt läuft…',
  'join.micHint': 'Ihr Browser fragt nach dem Zugriff auf Ihr Mikrofon.',
  'join.connecting': 'Audio wird verbunden…',
  'join.reconnecting': 'Audioverbindung unterbrochen, neuer Verbindungsversuch…',
  'join.micDenied':
    'Der Mikrofonzugriff wurde verweigert. Erlauben Sie das Mikrofon für diese Seite und versuchen Sie es erneut.',
  'join.micMissing': 'Kein Mikrofon gefunden. Schließen Sie eines an und versuchen Sie es erneut.',
  'join.micFailed': 'Das Mikrofon konnte nicht gestartet werden: {message}',
  'join.noWebRTC': 'Dieser Browser unterstützt keine Audioanrufe (WebRTC).',
  'join.connectFailed':
    'Die Audioverbindung ist fehlgeschlagen. Bitte treten Sie erneut bei.',
  'join.roleOrganizer': 'Sie sind der Organisator',
  'join.you': 'Sie',
  'join.inConference': 'In der Konferenz',
  'join.micOn': 'Ihr Mikrofon ist an',
  'join.micMuted': 'Sie sind stummgeschaltet',
  'join.micLevel': 'Mikrofonpegel',
  'join.enableAudio': 'Konferenzton abspielen',
  'join.left': 'Sie haben die Konferenz verlassen.',
  'join.removed': 'Sie wurden aus der Konferenz entfernt.',
  'join.rejoin': 'Erneut beitreten',
  'join.newJoin': 'Einer anderen Konferenz beitreten',
  'join.nobody': 'Außer Ihnen ist noch niemand da.',

  'status.scheduled': 'Die Konferenz hat noch nicht begonnen.',
  'status.waiting': 'Warten auf den Organisator…',
  'status.active': 'Die Konferenz läuft.',
  'status.ended': 'Die Konferenz ist beendet. Vielen Dank.',

  'phone.heading': 'Per Telefon dabei?',
  'phone.intro': 'Diese Tastenbefehle funktionieren während des Anrufs:',
  'phone.everyone': 'Alle',
  'phone.organizer': 'Nur Organisator',
  'phone.k6': 'Sich selbst stummschalten oder Stummschaltung aufheben',
  'phone.k1': 'Hilfe',
  'phone.k5': 'Alle Teilnehmenden stummschalten oder Stummschaltung aufheben',
  'phone.k7': 'Konferenz sperren oder entsperren',
  'phone.k9': 'Anzahl der Teilnehmenden ansagen',

  'org.pageTitle': 'Organisator – Telekonf',
  'org.kicker': 'Organisator',
  'org.pin': 'Teilnehmer-PIN',
  'org.moderatorPin': 'Moderator-PIN',
  'org.joinLink': 'Beitrittslink',
  'org.joinAudio': 'Als Organisator dem Audio beitreten',
  'org.muteAll': 'Alle stummschalten',
  'org.unmuteAll': 'Alle Stummschaltungen aufheben',
  'org.end': 'Konferenz beenden',
  'org.confirmEndTitle': 'Konferenz beenden?',
  'org.confirmEndBody':
    'Alle Verbindungen werden getrennt. Das kann nicht rückgängig gemacht werden.',
  'org.participants': 'Teilnehmende',
  'org.gone': 'Nicht mehr im Anruf',
  'org.inCall': 'Im Anruf: {n}',
  'org.total': 'Gesamt: {n}',
  'org.empty': 'Noch niemand ist beigetreten. Teilen Sie den Beitrittslink oder die PIN.',
  'org.ended': 'Diese Konferenz ist beendet.',
  'org.legend': 'Farbschlüssel',
  'org.missingToken':
    'Dieser Link ist unvollständig: Der Organisatorschlüssel fehlt. Öffnen Sie den Organisatorlink genau so, wie Sie ihn erhalten haben.',
  'org.loading': 'Konferenz wird geladen…',
  'org.joined': 'Beigetreten {time}',
  'org.leftAt': 'Verlassen {time}',
  'org.organizer': 'Organisator',
  'org.unknownCaller': 'Unbekannter Anrufer',
  'org.actionFailed': 'Die Aktion ist fehlgeschlagen: {message}',
  'org.participantLabel': '{name}: {state}',
  'org.startDialOut': 'Konferenz starten (alle anrufen)',
  'org.startDialOutHint': 'Ruft zuerst Ihr Telefon an, dann alle mit Telefonnummer.',
  'org.startedDialOut': 'Zuerst werden Sie angerufen, dann alle mit Telefonnummer…',
  'org.lock': 'Sperren',
  'org.unlock': 'Entsperren',
  'org.lockTitle': 'Konferenz sperren: Niemand Neues kann beitreten, außer Organisatoren.',
  'org.unlockTitle': 'Konferenz entsperren: Alle mit der PIN können wieder beitreten.',
  'org.locked': 'Gesperrt',
  'org.lockedHint': 'Niemand Neues kann beitreten, außer Organisatoren.',
  'org.accessTitle': 'Gewählte Einwahlnummer',

  'action.call': 'Anrufen',
  'action.callAgain': 'Erneut anrufen',

  'failure.busy': 'Besetzt',
  'failure.no-answer': 'Keine Antwort',
  'failure.rejected': 'Abgelehnt',
  'failure.failed': 'Anruf fehlgeschlagen',
  'failure.unreachable': 'Nicht erreichbar',

  'access.premium': 'Mehrwertnummer',
  'access.geographic': 'Ortsnetznummer',
  'access.tollfree': 'Gebührenfrei',

  'dial.heading': 'Teilnehmende hinzufügen',
  'dial.lead':
    'Telekonf ruft diese Nummer sofort an und verbindet die Person mit der Konferenz.',
  'dial.name': 'Name',
  'dial.phone': 'Telefonnummer',
  'dial.phonePlaceholder': '+49 30 901820',
  'dial.submit': 'Hinzufügen und anrufen',
  'dial.nameRequired': 'Bitte einen Namen eingeben.',
  'dial.adding': 'Wird angerufen…',
  'dial.added': '{name} wird angerufen.',
  'dial.empty': 'Nummer mit Ländervorwahl eingeben, z. B. +49 30 901820.',
  'dial.valid': 'Gültige Nummer',
  'dial.invalid': 'Keine gültige Telefonnummer',
  'dial.unchecked': 'Der Server prüft die Nummer beim Hinzufügen.',
  'dial.TOO_SHORT': 'Zu kurz',
  'dial.TOO_LONG': 'Zu lang',
  'dial.INVALID_LENGTH': 'Falsche Anzahl an Ziffern',
  'dial.INVALID_COUNTRY': 'Unbekannte Ländervorwahl',
  'dial.NO_COUNTRY': 'Bitte mit Ländervorwahl eingeben, beginnend mit +',
  'dial.NOT_A_NUMBER': 'Keine Telefonnummer',
  'dial.EXTENSION': 'Durchwahlen können nicht gewählt werden',

  'live.connecting': 'Verbinde…',
  'live.online': 'Live',
  'live.offline': 'Verbindung wird wiederhergestellt…',
  'live.failed': 'Live-Aktualisierungen nicht verfügbar: {message}',

  'conf.scheduled': 'Geplant',
  'conf.waiting': 'Wartet',
  'conf.active': 'Aktiv',
  'conf.ended': 'Beendet',

  'state.invited': 'Eingeladen',
  'state.ringing': 'Klingelt',
  'state.waiting': 'Wartet',
  'state.connected': 'Verbunden',
  'state.talking': 'Spricht',
  'state.muted': 'Stumm',
  'state.left': 'Gegangen',
  'state.failed': 'Fehlgeschlagen',

  'mode.web': 'Web',
  'mode.dial-in': 'Einwahl',
  'mode.dial-out': 'Anruf',
};

const sl = {
  'app.tagline': 'Zvočne konference za brskalnike in telefone',
  'app.footer': 'Telekonf · odprtokodni most za zvočne konference',
  'lang.label': 'Jezik',

  'error.network': 'Strežnik ni dosegljiv. Preverite povezavo in poskusite znova.',
  'error.generic': 'Prišlo je do napake (HTTP {status}). Poskusite znova.',

  'action.copy': 'Kopiraj',
  'action.copied': 'Kopirano',
  'action.mute': 'Utišaj',
  'action.unmute': 'Vklopi zvok',
  'action.remove': 'Odstrani',
  'action.leave': 'Zapusti',
  'action.cancel': 'Prekliči',

  'index.pageTitle': 'Ustvari konferenco – Telekonf',
  'index.heading': 'Ustvari konferenco',
  'index.lead':
    'Zvočno konferenco pripravite v nekaj sekundah. Udeleženci se pridružijo v brskalniku ali po telefonu s kodo PIN.',
  'index.title': 'Naslov',
  'index.titlePlaceholder': 'Tedenski sestanek ekipe',
  'index.organizerName': 'Vaše ime',
  'index.organizerEmail': 'Vaš e-poštni naslov',
  'index.language': 'Jezik konference',
  'index.languageHint': 'Za glasovna sporočila, e-pošto in strani udeležencev.',
  'index.submit': 'Ustvari konferenco',
  'index.submitting': 'Ustvarjam…',
  'index.readyHeading': 'Vaša konferenca je pripravljena',
  'index.readyLead': 'Povezavo za pridružitev ali PIN za udeležence pošljite vsem povabljenim.',
  'index.pin': 'PIN za udeležence',
  'index.moderatorPin': 'PIN za moderatorja',
  'index.moderatorPinHint': 'S to kodo PIN se pridružite kot organizator.',
  'index.joinLink': 'Povezava za udeležence',
  'index.organizerLink': 'Stran za organizatorja',
  'index.organizerLinkHint':
    'To povezavo hranite zase: vsebuje vaš organizatorski ključ. Shranite jo med zaznamke.',
  'index.openOrganizer': 'Odpri stran za organizatorja',
  'index.another': 'Ustvari novo konferenco',

  'join.pageTitle': 'Pridruži se konferenci – Telekonf',
  'join.heading': 'Pridružite se konferenci',
  'join.lead': 'Vpišite svoje ime in PIN iz vabila.',
  'join.name': 'Vaše ime',
  'join.pin': 'PIN',
  'join.submit': 'Pridruži se',
  'join.joining': 'Pridruževanje…',
  'join.micHint': 'Brskalnik vas bo vprašal za dostop do mikrofona.',
  'join.connecting': 'Vzpostavljam zvočno povezavo…',
  'join.reconnecting': 'Zvočna povezava je prekinjena, ponovno se povezujem…',
  'join.micDenied':
    'Dostop do mikrofona je bil zavrnjen. Dovolite mikrofon za to stran in poskusite znova.',
  'join.micMissing': 'Mikrofona ni bilo mogoče najti. Priključite ga in poskusite znova.',
  'join.micFailed': 'Mikrofona ni bilo mogoče vklopiti: {message}',
  'join.noWebRTC': 'Ta brskalnik ne podpira zvočnih klicev (WebRTC).',
  'join.connectFailed': 'Zvočna povezava ni uspela. Pridružite se znova.',
  'join.roleOrganizer': 'Ste organizator',
  'join.you': 'vi',
  'join.inConference': 'Na konferenci',
  'join.micOn': 'Vaš mikrofon je vklopljen',
  'join.micMuted': 'Vaš mikrofon je utišan',
  'join.micLevel': 'Raven mikrofona',
  'join.enableAudio': 'Predvajaj zvok konference',
  'join.left': 'Zapustili ste konferenco.',
  'join.removed': 'Odstranjeni ste bili s konference.',
  'join.rejoin': 'Pridruži se znova',
  'join.newJoin': 'Pridruži se drugi konferenci',
  'join.nobody': 'Razen vas še ni nikogar.',

  'status.scheduled': 'Konferenca se še ni začela.',
  'status.waiting': 'Čakamo na organizatorja…',
  'status.active': 'Konferenca poteka.',
  'status.ended': 'Konferenca se je končala. Hvala.',

  'phone.heading': 'Se pridružujete po telefonu?',
  'phone.intro': 'Med klicem lahko uporabite te ukaze na tipkovnici:',
  'phone.everyone': 'Vsi',
  'phone.organizer': 'Samo organizator',
  'phone.k6': 'Utišaj ali vklopi svoj mikrofon',
  'phone.k1': 'Pomoč',
  'phone.k5': 'Utišaj ali vklopi zvok vsem udeležencem',
  'phone.k7': 'Zakleni ali odkleni konferenco',
  'phone.k9': 'Število udeležencev',

  'org.pageTitle': 'Organizator – Telekonf',
  'org.kicker': 'Organizator',
  'org.pin': 'PIN za udeležence',
  'org.moderatorPin': 'PIN za moderatorja',
  'org.joinLink': 'Povezava za pridružitev',
  'org.joinAudio': 'Pridruži se zvoku kot organizator',
  'org.muteAll': 'Utišaj vse',
  'org.unmuteAll': 'Vklopi zvok vsem',
  'org.end': 'Končaj konferenco',
  'org.confirmEndTitle': 'Želite končati konferenco?',
  'org.confirmEndBody': 'Vsi udeleženci bodo prekinjeni. Tega ni mogoče razveljaviti.',
  'org.participants': 'Udeleženci',
  'org.gone': 'Niso več v klicu',
  'org.inCall': 'V klicu: {n}',
  'org.total': 'Skupaj: {n}',
  'org.empty': 'Nihče se še ni pridružil. Delite povezavo ali PIN.',
  'org.ended': 'Ta konferenca se je končala.',
  'org.legend': 'Legenda barv',
  'org.missingToken':
    'Povezava je nepopolna: manjka organizatorski ključ. Odprite povezavo za organizatorja natanko tako, kot ste jo prejeli.',
  'org.loading': 'Nalagam konferenco…',
  'org.joined': 'Pridružitev {time}',
  'org.leftAt': 'Odhod {time}',
  'org.organizer': 'Organizator',
  'org.unknownCaller': 'Neznan klicatelj',
  'org.actionFailed': 'Dejanje ni uspelo: {message}',
  'org.participantLabel': '{name}: {state}',
  'org.startDialOut': 'Začni konferenco (pokliči vse)',
  'org.startDialOutHint': 'Najprej pokliče vaš telefon, nato vse s telefonsko številko.',
  'org.startedDialOut': 'Najprej kličemo vas, nato vse s telefonsko številko…',
  'org.lock': 'Zakleni',
  'org.unlock': 'Odkleni',
  'org.lockTitle': 'Zakleni konferenco: novi udeleženci se ne morejo pridružiti, razen organizatorjev.',
  'org.unlockTitle': 'Odkleni konferenco: vsi s kodo PIN se lahko spet pridružijo.',
  'org.locked': 'Zaklenjena',
  'org.lockedHint': 'Novi udeleženci se ne morejo pridružiti, razen organizatorjev.',
  'org.accessTitle': 'Klicana dostopna številka',

  'action.call': 'Pokliči',
  'action.callAgain': 'Pokliči znova',

  'failure.busy': 'Zasedeno',
  'failure.no-answer': 'Ni odgovora',
  'failure.rejected': 'Zavrnjeno',
  'failure.failed': 'Klic ni uspel',
  'failure.unreachable': 'Nedosegljivo',

  'access.premium': 'Premijska številka',
  'access.geographic': 'Geografska številka',
  'access.tollfree': 'Brezplačna številka',

  'dial.heading': 'Dodaj udeleženca',
  'dial.lead': 'Telekonf bo to številko poklical takoj in osebo povezal s konferenco.',
  'dial.name': 'Ime',
  'dial.phone': 'Telefonska številka',
  'dial.phonePlaceholder': '+386 1 234 56 78',
  'dial.submit': 'Dodaj in pokliči',
  'dial.nameRequired': 'Vpišite ime.',
  'dial.adding': 'Kličem…',
  'dial.added': 'Kličemo: {name}.',
  'dial.empty': 'Vpišite številko s kodo države, npr. +386 1 234 56 78.',
  'dial.valid': 'Veljavna številka',
  'dial.invalid': 'Neveljavna telefonska številka',
  'dial.unchecked': 'Številko bo ob dodajanju preveril strežnik.',
  'dial.TOO_SHORT': 'Prekratka',
  'dial.TOO_LONG': 'Predolga',
  'dial.INVALID_LENGTH': 'Napačno število števk',
  'dial.INVALID_COUNTRY': 'Neznana koda države',
  'dial.NO_COUNTRY': 'Dodajte kodo države, ki se začne z +',
  'dial.NOT_A_NUMBER': 'To ni telefonska številka',
  'dial.EXTENSION': 'Internih številk ni mogoče klicati',

  'live.connecting': 'Povezujem…',
  'live.online': 'V živo',
  'live.offline': 'Ponovno povezovanje…',
  'live.failed': 'Sprotne posodobitve niso na voljo: {message}',

  'conf.scheduled': 'Načrtovana',
  'conf.waiting': 'Čaka',
  'conf.active': 'Poteka',
  'conf.ended': 'Končana',

  'state.invited': 'Povabljen',
  'state.ringing': 'Zvoni',
  'state.waiting': 'Čaka',
  'state.connected': 'Povezan',
  'state.talking': 'Govori',
  'state.muted': 'Utišan',
  'state.left': 'Odšel',
  'state.failed': 'Neuspešno',

  'mode.web': 'Splet',
  'mode.dial-in': 'Klic noter',
  'mode.dial-out': 'Klic ven',
};

const DICTS = { en, de, sl };
let current = 'en';

/**
 * Add a page's own strings ({en: {...}, de: {...}, sl: {...}}); modules of pages call this
 * once at import, so each page's strings live beside the page.
 */
export function addStrings(extra) {
  for (const [lang, strings] of Object.entries(extra)) {
    if (Object.hasOwn(DICTS, lang)) Object.assign(DICTS[lang], strings);
  }
}

/** 'de-AT' -> 'de'; unknown -> null. */
export function normalizeLang(code) {
  const short = String(code || '').toLowerCase().split(/[-_]/)[0];
  return Object.hasOwn(DICTS, short) ? short : null;
}

export function queryLang() {
  return normalizeLang(new URLSearchParams(window.location.search).get('lang'));
}

/** Resolve the UI language: ?lang=, then the conference's language, then the browser's. */
export function resolveLang(conferenceLang) {
  const fromBrowser = (navigator.languages || [navigator.language]).map(normalizeLang);
  return queryLang() || normalizeLang(conferenceLang) || fromBrowser.find(Boolean) || 'en';
}

export function getLang() {
  return current;
}

/** Translate key, replacing {name} placeholders with vars. Falls back to English, then the key. */
export function t(key, vars = {}) {
  const text = DICTS[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** Fill every [data-i18n] element's text and [data-i18n-attr="attr:key;attr:key"] attributes. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

/** Switch language, re-translate the document and notify pages via a 'langchange' event. */
export function setLang(code, { updateUrl = false } = {}) {
  const lang = normalizeLang(code) || 'en';
  if (updateUrl) {
    const url = new URL(window.location.href);
    url.searchParams.set('lang', lang);
    window.history.replaceState(window.history.state, '', url); // keeps the #fragment
  }
  const changed = lang !== current;
  current = lang;
  document.documentElement.lang = lang;
  applyI18n();
  if (changed) window.dispatchEvent(new CustomEvent('langchange', { detail: lang }));
}

/** Adopt the conference's language unless the user chose one explicitly with ?lang=. */
export function adoptConferenceLang(conferenceLang) {
  if (!queryLang() && normalizeLang(conferenceLang)) setLang(conferenceLang);
}
