#!/usr/bin/env node
// fleet.js - drives roostd with the AWS IoT Device SDK v2 for JavaScript, as
// an unmodified device would drive AWS IoT Core: fleet provisioning by claim
// through the SDK's iotidentity.IotIdentityClient, then the device shadow
// service through iotshadow.IotShadowClient with the certificate it got.
//
// Run by tests/integration/test_24_sdk_js.py, which checks what this prints
// against the server's registry and shadows through boto3. Steps:
//   1. connect with the claim certificate (mTLS); subscribe to the
//      CreateKeysAndCertificate and RegisterThing accepted/rejected topics
//      before publishing, as AWS's fleet provisioning sample does;
//      CreateKeysAndCertificate; RegisterThing with a bogus ownership token
//      (must be rejected), then with the real one and the parameters given.
//   2. reconnect with the new certificate and key (client id = thing name);
//      UpdateShadow reported, UpdateShadow desired that differs (the delta
//      event must come), GetShadow, a named shadow update, DeleteShadow, and
//      GetShadow once more (must be rejected with 404).
// Each step prints one JSON object on a line of stdout ({"step": ...}); any
// failure prints "fleet.js: FAILED: <why>" on stderr and exits 1.
//
// Usage: node fleet.js --port N --ca root-ca.pem --claim-cert c.pem
//          --claim-key c.key --template NAME --params '{"SerialNumber":"1"}'
//          --out-dir DIR [--claim-client-id ID] [--named-shadow NAME]
//          [--identity-protocol mqtt311|mqtt5] [--shadow-protocol mqtt311|mqtt5]
//          [--timeout-ms N] [--crt-log none|error|warn|info|debug|trace]
"use strict";

const fs = require("fs");
const path = require("path");
const { mqtt, mqtt5, iot, io, iotidentity, iotshadow } = require("aws-iot-device-sdk-v2");

const USAGE = "usage: node fleet.js --port N --ca FILE --claim-cert FILE --claim-key FILE " +
    "--template NAME --params JSON --out-dir DIR [--claim-client-id ID] [--named-shadow NAME] " +
    "[--identity-protocol mqtt311|mqtt5] [--shadow-protocol mqtt311|mqtt5] [--timeout-ms N] " +
    "[--crt-log LEVEL]";

class Failure extends Error {}

function parseArgs(argv) {
    const opts = {
        "claim-client-id": "claim-" + process.pid, "named-shadow": "config",
        "identity-protocol": "mqtt311", "shadow-protocol": "mqtt5", "timeout-ms": "10000",
        "crt-log": "none",
    };
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith("--") || i + 1 >= argv.length)
            throw new Failure(`bad argument ${JSON.stringify(argv[i])}\n${USAGE}`);
        opts[argv[i].slice(2)] = argv[i + 1];
    }
    for (const k of ["port", "ca", "claim-cert", "claim-key", "template", "params", "out-dir"])
        if (opts[k] === undefined)
            throw new Failure(`--${k} is required\n${USAGE}`);
    for (const k of ["identity-protocol", "shadow-protocol"])
        if (opts[k] !== "mqtt311" && opts[k] !== "mqtt5")
            throw new Failure(`--${k} must be mqtt311 or mqtt5, not ${opts[k]}`);
    opts.port = Number(opts.port);
    opts.timeoutMs = Number(opts["timeout-ms"]);
    if (!Number.isInteger(opts.port) || opts.port <= 0 || !(opts.timeoutMs > 0))
        throw new Failure(`--port and --timeout-ms must be positive numbers\n${USAGE}`);
    try {
        opts.params = JSON.parse(opts.params);
    } catch (e) {
        throw new Failure(`--params is not JSON: ${e.message}`);
    }
    return opts;
}

function emit(step, data) {
    process.stdout.write(JSON.stringify(Object.assign({ step }, data)) + "\n");
}

function check(cond, what, got) {
    if (!cond)
        throw new Failure(`${what}; got ${JSON.stringify(got)}`);
}

function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Failure(`no answer within ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The SDK's service clients deliver answers to per-topic handlers; a Mailbox
// turns the handlers of one operation (accepted, rejected, or an event
// stream) into awaitable messages, kept in arrival order so that none that
// comes before its waiter is lost.
class Mailbox {
    constructor(name, timeoutMs) {
        this.name = name;
        this.timeoutMs = timeoutMs;
        this.queue = [];
        this.waiters = [];
    }

    handler(kind) {
        return (error, response) => {
            const item = { kind, error, response };
            const w = this.waiters.shift();
            if (w)
                w(item);
            else
                this.queue.push(item);
        };
    }

    next() {
        const item = this.queue.shift();
        const arrival = item ? Promise.resolve(item) : withTimeout(
            new Promise((resolve) => this.waiters.push(resolve)), this.timeoutMs, this.name)
            .catch((e) => {
                this.waiters = [];
                throw e;
            });
        return arrival.then((it) => {
            if (it.error)
                throw new Failure(`${this.name}: the SDK could not read the answer: ${it.error}`);
            return it;
        });
    }

    // Sends the request and returns its answer: {kind: "accepted"|"rejected", response}.
    async call(publish) {
        check(this.queue.length === 0, `${this.name}: unexpected answer before the request`,
            this.queue);
        const answer = this.next();
        answer.catch(() => {});  // awaited below; a failed publish must not leave it unhandled
        await withTimeout(publish(), this.timeoutMs, `${this.name}: publish`);
        return answer;
    }

    async expect(kind, publish) {
        const a = await this.call(publish);
        check(a.kind === kind, `${this.name}: expected ${kind}`, a);
        return a.response;
    }
}

const QOS = mqtt.QoS.AtLeastOnce;

// One mTLS connection through the SDK's MQTT 3.1.1 or MQTT 5 client; returns
// the service-client factory argument and a close function.
async function connect(opts, protocol, certPath, keyPath, clientId) {
    if (protocol === "mqtt311") {
        const config = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(certPath, keyPath)
            .with_certificate_authority_from_path(undefined, opts.ca)
            .with_endpoint("localhost")
            .with_port(opts.port)
            .with_client_id(clientId)
            .with_clean_session(true)
            .with_keep_alive_seconds(30)
            .build();
        const conn = new mqtt.MqttClient().new_connection(config);
        let lastError;
        conn.on("error", (e) => { lastError = e; });
        try {
            await withTimeout(conn.connect(), opts.timeoutMs, `MQTT 3.1.1 connect as ${clientId}`);
        } catch (e) {
            throw new Failure(`MQTT 3.1.1 connect as ${clientId} failed: ${e}` +
                (lastError ? ` (${lastError})` : ""));
        }
        return {
            identity: () => new iotidentity.IotIdentityClient(conn),
            shadow: () => new iotshadow.IotShadowClient(conn),
            close: () => withTimeout(conn.disconnect(), opts.timeoutMs, "MQTT 3.1.1 disconnect"),
        };
    }
    const config = iot.AwsIotMqtt5ClientConfigBuilder
        .newDirectMqttBuilderWithMtlsFromPath("localhost", certPath, keyPath)
        .withCertificateAuthorityFromPath(undefined, opts.ca)
        .withPort(opts.port)
        .withConnectProperties({ clientId, keepAliveIntervalSeconds: 30 })
        .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
        .build();
    const client = new mqtt5.Mqtt5Client(config);
    const connected = new Promise((resolve, reject) => {
        client.on("connectionSuccess", (ev) => resolve(ev));
        client.on("connectionFailure", (ev) => reject(new Failure(
            `MQTT 5 connect as ${clientId} failed: ${ev.error}` +
            (ev.connack ? ` CONNACK ${JSON.stringify(ev.connack)}` : ""))));
    });
    client.on("disconnection", (ev) => {
        if (!client.stopping)
            process.stderr.write(`fleet.js: MQTT 5 client ${clientId} disconnected: ${ev.error}` +
                (ev.disconnect ? ` ${JSON.stringify(ev.disconnect)}` : "") + "\n");
    });
    client.start();
    try {
        await withTimeout(connected, opts.timeoutMs, `MQTT 5 connect as ${clientId}`);
    } catch (e) {
        client.stop();
        client.close();
        throw e;
    }
    return {
        identity: () => iotidentity.IotIdentityClient.newFromMqtt5Client(client),
        shadow: () => iotshadow.IotShadowClient.newFromMqtt5Client(client),
        close: async () => {
            client.stopping = true;
            const stopped = new Promise((resolve) => client.on("stopped", resolve));
            client.stop();
            await withTimeout(stopped, opts.timeoutMs, "MQTT 5 stop");
            client.close();
        },
    };
}

async function provision(opts) {
    const conn = await connect(opts, opts["identity-protocol"], opts["claim-cert"],
        opts["claim-key"], opts["claim-client-id"]);
    try {
        const identity = conn.identity();
        const keys = new Mailbox("CreateKeysAndCertificate", opts.timeoutMs);
        const reg = new Mailbox("RegisterThing", opts.timeoutMs);
        const tpl = { templateName: opts.template };
        // Subscribe first: the answers go to whoever is subscribed when they are published.
        await identity.subscribeToCreateKeysAndCertificateAccepted({}, QOS, keys.handler("accepted"));
        await identity.subscribeToCreateKeysAndCertificateRejected({}, QOS, keys.handler("rejected"));
        await identity.subscribeToRegisterThingAccepted(tpl, QOS, reg.handler("accepted"));
        await identity.subscribeToRegisterThingRejected(tpl, QOS, reg.handler("rejected"));

        const created = await keys.expect("accepted",
            () => identity.publishCreateKeysAndCertificate({}, QOS));
        for (const k of ["certificateId", "certificatePem", "privateKey", "certificateOwnershipToken"])
            check(typeof created[k] === "string" && created[k].length > 0,
                `CreateKeysAndCertificate: no ${k}`, Object.keys(created));
        emit("CreateKeysAndCertificate", { certificateId: created.certificateId });

        const bogus = await reg.expect("rejected", () => identity.publishRegisterThing(
            Object.assign({ certificateOwnershipToken: "not-a-token", parameters: opts.params }, tpl),
            QOS));
        check(bogus.statusCode === 400 && bogus.errorCode === "InvalidCertificateOwnershipToken",
            "RegisterThing with a bogus token: expected 400 InvalidCertificateOwnershipToken", bogus);
        emit("RegisterThingRejected", { statusCode: bogus.statusCode, errorCode: bogus.errorCode,
            errorMessage: bogus.errorMessage });

        const registered = await reg.expect("accepted", () => identity.publishRegisterThing(
            Object.assign({ certificateOwnershipToken: created.certificateOwnershipToken,
                parameters: opts.params }, tpl), QOS));
        check(typeof registered.thingName === "string" && registered.thingName.length > 0,
            "RegisterThing: no thingName", registered);
        emit("RegisterThing", { thingName: registered.thingName,
            deviceConfiguration: registered.deviceConfiguration });

        fs.mkdirSync(opts["out-dir"], { recursive: true });
        const certPath = path.join(opts["out-dir"], registered.thingName + ".pem");
        const keyPath = path.join(opts["out-dir"], registered.thingName + ".key");
        fs.writeFileSync(certPath, created.certificatePem);
        fs.writeFileSync(keyPath, created.privateKey, { mode: 0o600 });
        return { thingName: registered.thingName, certificateId: created.certificateId,
            certPath, keyPath };
    } finally {
        await conn.close();
    }
}

async function shadows(opts, device) {
    const thingName = device.thingName;
    const shadowName = opts["named-shadow"];
    const conn = await connect(opts, opts["shadow-protocol"], device.certPath, device.keyPath,
        thingName);
    try {
        const shadow = conn.shadow();
        const t = { thingName };
        const named = { thingName, shadowName };
        const update = new Mailbox("UpdateShadow", opts.timeoutMs);
        const get = new Mailbox("GetShadow", opts.timeoutMs);
        const del = new Mailbox("DeleteShadow", opts.timeoutMs);
        const updNamed = new Mailbox("UpdateNamedShadow", opts.timeoutMs);
        const delta = new Mailbox("ShadowDeltaUpdatedEvents", opts.timeoutMs);
        await shadow.subscribeToUpdateShadowAccepted(t, QOS, update.handler("accepted"));
        await shadow.subscribeToUpdateShadowRejected(t, QOS, update.handler("rejected"));
        await shadow.subscribeToGetShadowAccepted(t, QOS, get.handler("accepted"));
        await shadow.subscribeToGetShadowRejected(t, QOS, get.handler("rejected"));
        await shadow.subscribeToDeleteShadowAccepted(t, QOS, del.handler("accepted"));
        await shadow.subscribeToDeleteShadowRejected(t, QOS, del.handler("rejected"));
        await shadow.subscribeToUpdateNamedShadowAccepted(named, QOS, updNamed.handler("accepted"));
        await shadow.subscribeToUpdateNamedShadowRejected(named, QOS, updNamed.handler("rejected"));
        await shadow.subscribeToShadowDeltaUpdatedEvents(t, QOS, delta.handler("event"));

        const reported = { temperature: 21, mode: "eco" };
        let r = await update.expect("accepted", () => shadow.publishUpdateShadow(
            { thingName, state: { reported }, clientToken: "sdkjs-1" }, QOS));
        check(JSON.stringify(r.state) === JSON.stringify({ reported }) && r.version === 1 &&
            r.clientToken === "sdkjs-1", "UpdateShadow reported: accepted document", r);
        emit("UpdateShadowReported", { state: r.state, version: r.version,
            clientToken: r.clientToken });

        // desired differs from reported in one key: the delta names just that key
        r = await update.expect("accepted", () => shadow.publishUpdateShadow(
            { thingName, state: { desired: { mode: "boost" } }, clientToken: "sdkjs-2" }, QOS));
        check(r.version === 2, "UpdateShadow desired: version 2", r);
        const ev = (await delta.next()).response;
        check(JSON.stringify(ev.state) === JSON.stringify({ mode: "boost" }) && ev.version === 2,
            "ShadowDeltaUpdated event: state {mode: boost}, version 2", ev);
        emit("ShadowDelta", { state: ev.state, version: ev.version, clientToken: ev.clientToken,
            hasMetadata: ev.metadata !== undefined });

        const g = await get.expect("accepted", () => shadow.publishGetShadow(
            { thingName, clientToken: "sdkjs-3" }, QOS));
        check(g.version === 2 && g.clientToken === "sdkjs-3" && g.state &&
            JSON.stringify(g.state.delta) === JSON.stringify({ mode: "boost" }),
            "GetShadow: version 2 with the delta", g);
        emit("GetShadow", { state: g.state, version: g.version, clientToken: g.clientToken });

        const n = await updNamed.expect("accepted", () => shadow.publishUpdateNamedShadow(
            { thingName, shadowName, state: { reported: { firmware: "1.2.3" } } }, QOS));
        check(n.version === 1, "UpdateNamedShadow: version 1", n);
        emit("UpdateNamedShadow", { shadowName, state: n.state, version: n.version });

        const d = await del.expect("accepted", () => shadow.publishDeleteShadow(
            { thingName, clientToken: "sdkjs-4" }, QOS));
        check(d.version === 2 && d.clientToken === "sdkjs-4", "DeleteShadow: version 2", d);
        emit("DeleteShadow", { version: d.version, clientToken: d.clientToken });

        const gone = await get.expect("rejected", () => shadow.publishGetShadow(
            { thingName, clientToken: "sdkjs-5" }, QOS));
        check(gone.code === 404 && gone.clientToken === "sdkjs-5",
            "GetShadow after DeleteShadow: rejected with 404", gone);
        emit("GetShadowRejected", { code: gone.code, message: gone.message,
            clientToken: gone.clientToken });
    } finally {
        await conn.close();
    }
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const levels = { none: io.LogLevel.NONE, error: io.LogLevel.ERROR, warn: io.LogLevel.WARN,
        info: io.LogLevel.INFO, debug: io.LogLevel.DEBUG, trace: io.LogLevel.TRACE };
    if (!(opts["crt-log"] in levels))
        throw new Failure(`--crt-log must be one of ${Object.keys(levels).join(", ")}`);
    if (opts["crt-log"] !== "none")
        io.enable_logging(levels[opts["crt-log"]]);
    const device = await provision(opts);
    await shadows(opts, device);
    emit("done", { thingName: device.thingName, certificateId: device.certificateId });
}

main().then(() => process.exit(0), (e) => {
    process.stderr.write(`fleet.js: FAILED: ${e instanceof Failure ? e.message : (e && e.stack) || e}\n`);
    process.exit(1);
});
