// nodeclient.js -- Node clients as services write them, for the fidelity tests.
//
//   node nodeclient.js net HOST PORT TIMEOUT_MS    net.connect, setTimeout, "ping", first data
//   node nodeclient.js http HOST PORT TIMEOUT_MS   http.get with a timeout (destroyed on it)
//
// Prints one line: what the program saw ("ok", "timeout", an error's code and message, an HTTP
// status), then the milliseconds from the first call to it.
const net = require('net'), http = require('http');
const [mode, host, port, timeout] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
const ms = () => Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
let said = false;
const say = (what) => { if (!said) { said = true; console.log(what + ' ' + ms()); } };
if (mode === 'net') {
  const s = net.connect(+port, host);
  s.setTimeout(+timeout);
  s.on('connect', () => s.write('ping\n'));
  s.on('data', () => { say('ok'); s.destroy(); });
  s.on('timeout', () => { say('timeout'); s.destroy(); });
  s.on('error', (e) => say(e.code + ' ' + e.message));
} else {
  const req = http.get({ host, port: +port, path: '/', timeout: +timeout, agent: false }, (res) => {
    res.resume();
    res.on('end', () => say('status ' + res.statusCode));
  });
  // what node programs do on a time-out: give up on the request
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (e) => say((e.code || 'Error') + ' ' + e.message));
}
