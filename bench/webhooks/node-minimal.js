// The floor for any Node webhook server on this payload: `http` +
// `createHmac` (constant-time compare) + `JSON.parse`, no framework, no
// journal, nothing dispatched. Probot does this and more; prflow does this
// plus a durable journal. Usage: WEBHOOK_SECRET=… PORT=… node node-minimal.js
const http = require("http");
const crypto = require("crypto");
const secret = process.env.WEBHOOK_SECRET;
http
  .createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const want = Buffer.from("sha256=" + crypto.createHmac("sha256", secret).update(body).digest("hex"));
      const got = Buffer.from(String(req.headers["x-hub-signature-256"] || ""));
      if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) {
        res.statusCode = 401;
        return res.end();
      }
      try {
        JSON.parse(body.toString("utf8"));
      } catch {
        res.statusCode = 400;
        return res.end();
      }
      res.statusCode = 202;
      res.end("ok\n");
    });
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
