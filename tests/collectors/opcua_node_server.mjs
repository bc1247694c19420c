// A second OPC UA implementation for the interoperability test (tests/collectors/test_opcua_interop.py):
// node-opcua's server, secured as in production (Basic256Sha256, SignAndEncrypt only, only the trusted client
// certificate accepted), serving three meters' variables. Every UPDATE_MS it publishes the next instant
// (source timestamps one simulated minute apart from START) and prints what it published as one JSON line.
//   node opcua_node_server.mjs PORT PKI_DIR START_ISO UPDATES
// PKI_DIR holds node-server.pem / node-server.key.pem (its certificate and key) and collector.der (trusted).
import { readFileSync } from "node:fs";
import path from "node:path";
import { OPCUAServer } from "node-opcua-server";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import { MessageSecurityMode, SecurityPolicy } from "node-opcua-secure-channel";
import { DataType, Variant } from "node-opcua-variant";
import { StatusCodes } from "node-opcua-status-code";

const [port, pki, startIso, updates] = process.argv.slice(2);
const UPDATE_MS = 1000;
const URI = "urn:tanjian:test:node-opcua";

const serverCertificateManager = new OPCUACertificateManager({
  automaticallyAcceptUnknownCertificate: false,
  rootFolder: path.join(pki, "node-pki"),
});
await serverCertificateManager.initialize();
await serverCertificateManager.trustCertificate(readFileSync(path.join(pki, "collector.der")));

const server = new OPCUAServer({
  port: Number(port),
  hostname: "127.0.0.1",
  resourcePath: "/interop",
  securityPolicies: [SecurityPolicy.Basic256Sha256],
  securityModes: [MessageSecurityMode.SignAndEncrypt],
  allowAnonymous: true,
  certificateFile: path.join(pki, "node-server.pem"),
  privateKeyFile: path.join(pki, "node-server.key.pem"),
  serverCertificateManager,
  serverInfo: { applicationUri: URI, productUri: "tanjian-interop-test" },
});
await server.initialize();

const ns = server.engine.addressSpace.registerNamespace("urn:tanjian:interop:meters");
const objects = server.engine.addressSpace.rootFolder.objects;
// meter -> [name, data type, value at instant k]; units as the test's configuration maps them
const meters = {
  "M-MAIN": [["ActiveEnergy", DataType.Double, (k) => 152340.125 + 0.75 * k],          // kWh
             ["ActivePower", DataType.Double, (k) => 41.5 + (k % 5) * 1.25],           // kW
             ["Voltage", DataType.Float, (k) => 230.5 + (k % 3)],                      // V
             ["Current", DataType.Float, (k) => 60.25 + (k % 4) * 0.5],                // A
             ["PowerFactor", DataType.Double, (k) => 0.9 + (k % 2) * 0.03]],
  "M-WELD-01": [["ActiveEnergy", DataType.UInt32, (k) => 8_123_400 + 750 * k],          // Wh
                ["ActivePower", DataType.Int32, (k) => 45_000 - 100 * k]],               // W
  "M-GAS": [["Volume", DataType.Int32, (k) => 1_234_500 + 17 * k],                       // 0.01 m3
            ["Flow", DataType.Double, (k) => 3.5 + 0.25 * (k % 2)]],                     // L/s
};
const variables = [];
for (const [meter, items] of Object.entries(meters)) {
  const folder = ns.addObject({ organizedBy: objects, browseName: meter });
  for (const [name, dataType, value] of items) {
    const node = ns.addVariable({ componentOf: folder, browseName: name, nodeId: `s=${meter}.${name}`, dataType,
                                  minimumSamplingInterval: 100 });
    variables.push({ nodeId: `ns=${ns.index};s=${meter}.${name}`, node, dataType, value });
  }
}

function publish(k) {
  const when = new Date(Date.parse(startIso) + k * 60_000);
  const values = {};
  for (const v of variables) {
    const x = v.value(k);
    v.node.setValueFromSource(new Variant({ dataType: v.dataType, value: x }), StatusCodes.Good, when);
    values[v.nodeId] = v.dataType === DataType.Float ? Math.fround(x) : x;
  }
  console.log(JSON.stringify({ k, time: when.toISOString(), values }));
}

publish(0);
await server.start();
console.log(JSON.stringify({ listening: server.getEndpointUrl(), namespace: ns.index }));
let k = 1;
const timer = setInterval(() => {
  if (k >= Number(updates)) { clearInterval(timer); return; }
  publish(k++);
}, UPDATE_MS);
process.on("SIGTERM", async () => { clearInterval(timer); await server.shutdown(0); process.exit(0); });
