// Push readings to tanjian's connector endpoint from Node.js (>= 18: global fetch), signed with HMAC-SHA256.
//   TANJIAN_PUSH_URL       e.g. http://127.0.0.1:8480/v1/readings
//   TANJIAN_CONNECTOR      this connector's name in tanjian.yaml (push.connectors.NAME)
//   TANJIAN_HMAC_KEY_FILE  file holding its HMAC key
//   usage: node push.mjs METER COUNTER_KWH [RATE_KW] [ISO_TIME]
// Retries with the same batch id until tanjian acknowledges (201, or 200 for a batch it already has):
// only then is the reading fsync'd in the journal. A 4xx refusal names the field and is not retried.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

const [meter, counter, rate, time] = process.argv.slice(2);
const key = readFileSync(process.env.TANJIAN_HMAC_KEY_FILE, "utf8").trim();
const when = time ?? new Date().toISOString();
const reading = { meter, time: when, counter: Number(counter) };
if (rate !== undefined) reading.rate = Number(rate);
const body = JSON.stringify({ batch_id: `node-${meter}-${when}`, readings: [reading] });
const signature = "sha256=" + createHmac("sha256", key).update(body).digest("hex");

for (let attempt = 1; ; attempt++) {
  let res;
  try {
    res = await fetch(process.env.TANJIAN_PUSH_URL, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-Tanjian-Connector": process.env.TANJIAN_CONNECTOR,
        "X-Tanjian-Signature": signature,
      },
      body,
    });
  } catch (err) {  // endpoint down: the reading is not acknowledged, try again
    if (attempt >= 5) throw err;
    await new Promise((r) => setTimeout(r, 1000 * attempt));
    continue;
  }
  const answer = await res.json();
  console.log(JSON.stringify(answer));
  if (res.status === 200 || res.status === 201) process.exit(0);
  if (res.status < 500 || attempt >= 5) { console.error(`push.mjs: refused with HTTP ${res.status}`); process.exit(1); }
  await new Promise((r) => setTimeout(r, 1000 * attempt));
}
