// lbg_node_oracle.js -- Node's HTTP client (llhttp, strict: no
// insecureHTTPParser) as a response-parser oracle (Node's http.request,
// https://nodejs.org/api/http.html#httprequestoptions-callback).
//
//   node lbg_node_oracle.js PORT CASES.json
//
// CASES.json: [{"id": "...", "path": "/c/018", "method": "GET",
//               "headers": {...}}, ...]. One request per case, one connection
// each (agent: false), in order. Prints one JSON line per case:
//   {"id", "phase": "header" | "body" | "ok", "status", "code", "reason"}
// phase "header": the parser failed before 'response' (a proxy built on
// Node answers 502); "body": after the response head (truncated body);
// "ok": no error until the connection closed.
'use strict';
const http = require('http');
const fs = require('fs');

const port = Number(process.argv[2]);
const cases = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));

function one(c) {
  return new Promise((resolve) => {
    let status = null;
    let err = null;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const phase = err === null ? 'ok' : (status === null ? 'header' : 'body');
      resolve({ id: c.id, phase, status, code: err && err.code, reason: err && err.reason });
    };
    const req = http.request({ host: '127.0.0.1', port, path: c.path, method: c.method,
                               headers: c.headers || {}, agent: false });
    req.on('response', (res) => {
      status = res.statusCode;
      res.on('data', () => {});
      res.on('aborted', () => { if (err === null) err = { code: 'ABORTED' }; });
      res.on('error', (e) => { if (err === null) err = e; });
    });
    req.on('upgrade', (res, socket) => {
      status = res.statusCode;
      socket.destroy();
      finish();
    });
    req.on('error', (e) => { if (err === null) err = e; });
    req.on('close', () => setImmediate(finish));
    req.setTimeout(5000, () => {
      if (err === null) err = { code: 'TIMEOUT' };
      req.destroy();
    });
    req.end();
  });
}

(async () => {
  for (const c of cases) {
    console.log(JSON.stringify(await one(c)));
  }
})();
