// A real browser Jingle endpoint for the interop tests: StanzaJS in Chromium, over ejabberd's
// WebSocket, audio from Chromium's fake microphone, media relayed through ejabberd's TURN over
// TCP on loopback.  The test drives it through window.peer (DevTools protocol) and waits for
// its events with peer.next(name).  Video calls send Chromium's fake camera and show what
// arrives in a <video> element, which the test reads back through a canvas.
import * as XMPP from 'stanza';

const queues = {};  // event name -> {items: [...], waiters: [...]}
const since = performance.now();

function queue(name) {
  return (queues[name] = queues[name] || { items: [], waiters: [] });
}

function note(name, detail) {
  const event = { name, ms: performance.now() - since, detail: detail === undefined ? null : detail };
  console.log('peer: ' + name + ' ' + JSON.stringify(event.detail));
  const q = queue(name);
  const waiter = q.waiters.shift();
  if (waiter) waiter(event); else q.items.push(event);
}

let client = null;
let analyser = null;
let screen = null;  // the <video> element showing the peer's camera

function listen(stream) {
  const context = new AudioContext();
  analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  context.createMediaStreamSource(stream).connect(analyser);
}
let session = null;

function watch(s) {
  session = s;
  s.pc.addEventListener('connectionstatechange', () => {
    if (s.pc.connectionState === 'connected' || s.pc.connectionState === 'failed') {
      note(s.pc.connectionState);
    }
  });
}

// the fake microphone, and with `video` the fake camera (Chromium's moving test card)
async function devices(video) {
  return navigator.mediaDevices.getUserMedia({ audio: true, video: Boolean(video) });
}

function show(stream) {
  screen = document.createElement('video');
  screen.muted = true;  // the <audio> element plays the sound
  screen.srcObject = stream;
  document.body.append(screen);
  screen.requestVideoFrameCallback((now, frame) => note('first-frame', { width: frame.width, height: frame.height }));
  screen.play().catch(error => note('play-failed', String(error)));
}

window.peer = {
  // the next event called `name` (already seen or still to come), or an error after timeoutMs
  next(name, timeoutMs = 15000) {
    const q = queue(name);
    if (q.items.length) return Promise.resolve(q.items.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        q.waiters.splice(q.waiters.indexOf(done), 1);
        reject(new Error('no ' + name + ' within ' + timeoutMs + ' ms'));
      }, timeoutMs);
      const done = event => { clearTimeout(timer); resolve(event); };
      q.waiters.push(done);
    });
  },

  // Log in over WebSocket; relay-only ICE through the server's TURN-over-TCP servers (XEP-0215).
  async login(url, jid, password) {
    client = XMPP.createClient({
      jid, password, resource: 'browser',
      transports: { websocket: url, bosh: false },
      jingle: { iceServers: [], iceTransportPolicy: 'relay' },
    });
    // play what arrives, as a person's browser would (Chromium decodes and measures it then)
    client.jingle.on('peerTrackAdded', (s, track, stream) => {
      if (track.kind === 'video') return show(stream);
      const speaker = new Audio();
      speaker.srcObject = stream;
      listen(stream);
      speaker.play().then(() => note('playing'), error => note('play-failed', String(error)));
    });
    client.on('jingle:incoming', s => { watch(s); note('incoming', { from: s.peerID, video: s.includesVideo }); });
    client.on('jingle:accepted', () => note('accepted'));
    client.on('jingle:ringing', () => note('ringing'));
    client.on('jingle:terminated', (s, reason) => note('ended', { reason: reason ? reason.condition : null }));
    client.on('disconnected', e => note('disconnected', String(e)));
    client.on('stream:error', error => note('stream-error', { condition: error.condition }));
    const started = new Promise(resolve => client.once('session:started', resolve));
    client.connect();
    await started;
    client.sendPresence();
    await client.discoverICEServers();
    client.jingle.iceServers = client.jingle.iceServers.filter(
      server => [].concat(server.urls).some(u => u.startsWith('turn:') && u.endsWith('transport=tcp')));
    return { jid: client.jid, iceServers: client.jingle.iceServers.map(s => [].concat(s.urls)) };
  },

  async call(peerJid, video = false) {
    const s = client.jingle.createMediaSession(peerJid, undefined, await devices(video));
    watch(s);
    note('calling');
    await s.start();
  },

  // answer with the microphone, and with the camera too when the offer has video
  async answer() {
    note('answering');
    const stream = await devices(session.includesVideo);
    for (const track of stream.getTracks()) await session.addTrack(track, stream);
    await session.accept();
  },

  hangup() {
    session.end('success');
  },

  // What the browser's own WebRTC stack counts: audio in and out, and the selected ICE pair.
  async stats() {
    const report = await session.pc.getStats();
    const out = { received: 0, energy: 0, sent: 0, local: null, remote: null };
    const byId = new Map();
    report.forEach(r => byId.set(r.id, r));
    report.forEach(r => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        out.received += r.packetsReceived || 0;
        out.energy += r.totalAudioEnergy || 0;
      }
      if (r.type === 'outbound-rtp' && r.kind === 'audio') out.sent += r.packetsSent || 0;
      if (r.type === 'transport' && r.selectedCandidatePairId) {
        const pair = byId.get(r.selectedCandidatePairId);
        const local = byId.get(pair.localCandidateId);
        const remote = byId.get(pair.remoteCandidateId);
        out.local = { type: local.candidateType, address: local.address, relayProtocol: local.relayProtocol || null };
        out.remote = { type: remote.candidateType, address: remote.address };
      }
    });
    return out;
  },

  // Video both ways as the browser's WebRTC stack counts it, and what its camera captures.
  async videoStats() {
    const report = await session.pc.getStats();
    const out = { decoded: 0, width: null, height: null, encoded: 0, camera: null };
    report.forEach(r => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.decoded += r.framesDecoded || 0;
        out.width = r.frameWidth || null;
        out.height = r.frameHeight || null;
      }
      if (r.type === 'outbound-rtp' && r.kind === 'video') out.encoded += r.framesEncoded || 0;
    });
    const sender = session.pc.getSenders().find(s => s.track && s.track.kind === 'video');
    if (sender) out.camera = sender.track.getSettings();
    return out;
  },

  // resolves once the <video> element has shown `count` more frames
  shownFrames(count, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(count + ' frames not shown within ' + timeoutMs + ' ms')), timeoutMs);
      const step = () => {
        if (--count > 0) screen.requestVideoFrameCallback(step); else { clearTimeout(timer); resolve(); }
      };
      screen.requestVideoFrameCallback(step);
    });
  },

  // row `y` of the picture the <video> element shows now, as [[r, g, b], ...]
  videoRow(y) {
    const canvas = document.createElement('canvas');
    canvas.width = screen.videoWidth;
    canvas.height = screen.videoHeight;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(screen, 0, 0);
    const data = context.getImageData(0, y, canvas.width, 1).data;
    const row = [];
    for (let x = 0; x < canvas.width; x++) row.push([data[4 * x], data[4 * x + 1], data[4 * x + 2]]);
    return row;
  },

  // the loudest frequency of what the browser hears now (Hz, FFT bins of sampleRate / 8192)
  peakHz() {
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let loudest = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[loudest]) loudest = i;
    return { hz: loudest * analyser.context.sampleRate / analyser.fftSize, db: bins[loudest] };
  },

  // every candidate the browser gathered, from its local description
  localCandidates() {
    return session.pc.localDescription.sdp.split(/\r?\n/).filter(l => l.startsWith('a=candidate:'));
  },
};
note('ready');
