#!/usr/bin/env python3
"""Writes the committed seed corpus under fuzz/seeds/<target>/ from real frames and the crates' test fixtures.

Run from anywhere: python3 fuzz/seeds/make_seeds.py. Sources: rmq-protocol/tests/captures/*.jsonl (frames
recorded from real RocketMQ peers), the pull response in rmq-protocol/src/message/testdata, rmq-filter's
table tests, examples-shop/application.toml. Seeds are small on purpose; libFuzzer grows its own corpus in
fuzz/corpus/<target>/ (not committed).
"""
import hashlib
import json
import pathlib
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "fuzz" / "seeds"
JSON_BODY_TYPES = 26  # selectors of fuzz_targets/json_bodies.rs


def put(target, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def captured_frames():
    for f in sorted((ROOT / "rmq-protocol/tests/captures").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            if not line.strip():
                continue
            o = json.loads(line)
            parts = [o] if "frame_hex" in o else [o.get("request"), o.get("response")]
            for p in parts:
                if p and not p.get("frame_truncated"):
                    yield bytes.fromhex(p["frame_hex"])


def split_frame(frame):
    word = struct.unpack(">I", frame[4:8])[0]
    hlen = word & 0xFFFFFF
    return word >> 24, frame[8:8 + hlen], frame[8 + hlen:]


def binary_header(code, lang, version, opaque, flag, remark, ext):
    out = struct.pack(">hBhii", code, lang, version, opaque, flag)
    r = remark.encode()
    out += struct.pack(">i", len(r)) + r
    e = b""
    for k, v in ext.items():
        k, v = k.encode(), v.encode()
        e += struct.pack(">H", len(k)) + k + struct.pack(">i", len(v)) + v
    return out + struct.pack(">i", len(e)) + e


def camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(w.title() for w in rest)


def write_dict(target, words):
    d = ROOT / "fuzz" / "dicts"
    d.mkdir(parents=True, exist_ok=True)
    lines = []
    for w in sorted(set(words)):
        esc = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "\\x%02X" % ord(c) for c in w)
        lines.append('"%s"' % esc)
    (d / f"{target}.dict").write_text("\n".join(lines) + "\n")


def dictionaries():
    def src(rel):
        return (ROOT / rel).read_text()

    json_syntax = ["{", "}", "[", "]", ":", ",", '"', "null", "true", "false", "-0", "1e3", "\\u0000",
                   "\\ud83d\\ude00", "18446744073709551616", "-9223372036854775809", "2147483648"]
    header_keys = ["code", "language", "version", "opaque", "flag", "remark", "extFields",
                   "serializeTypeCurrentRPC", "JAVA", "RUST", "CPP", "OTHER"]
    write_dict("header_json", json_syntax + header_keys)
    fields = []
    for f in (ROOT / "rmq-protocol/src/body").glob("*.rs"):
        text = f.read_text()
        fields += [camel(m) for m in re.findall(r"^\s*pub ([a-z_0-9]+):", text, re.M)]
        fields += re.findall(r'rename = "([A-Za-z]+)"', text)
    write_dict("json_bodies", json_syntax + fields
               + ["{0:", "{-1:", '{{"brokerName":"b","queueId":0,"topic":"T"}:'])
    write_dict("broker_conf", re.findall(r'^\s*"([A-Za-z0-9]+)" =>', src("rmq-broker/src/config/mod.rs"), re.M)
               + ["=", ":", "\\", "\\u00", "\n", "#", "!", "true", "false", "18446744073709551615",
                  "4294967295", "ASYNC_FLUSH", "SYNC_MASTER", "PROM", "1s", "2m", "3h", "4d"])
    write_dict("sql92", ["AND", "OR", "NOT", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE", "CONTAINS",
                         "STARTSWITH", "ENDSWITH", "=", "<>", ">=", "<=", "(", ")", "'", "''", ",",
                         "2147483648", "9223372036854775808", "1.5E308", "\x00", "\x01", "\x02"])
    write_dict("settings", ["[rocketmq]", "[rocketmq.producer]", "name-server", "group", "${", ":", "}", "=",
                            '"', "'''", "[[", "]]", "{", "}", "true", "1979-05-27T07:32:00Z", "inf", "nan"]
               + re.findall(r'"(rocketmq\.[a-z.-]+)"', src("rmq-runtime/src/settings.rs")))


def main():
    dictionaries()
    frames = list(captured_frames())
    headers, bodies = set(), set()
    for fr in frames:
        st, h, b = split_frame(fr)
        headers.add(h)
        if b[:1] in (b"{", b"["):
            bodies.add(b)
        put("frame", b"\x00" + fr)
        if st == 0:
            put("header_json", h)
            cmd = json.loads(h)
            ext = {k: str(v) for k, v in (cmd.get("extFields") or {}).items()}
            bh = binary_header(cmd.get("code", 0), 0, cmd.get("version", 0), cmd.get("opaque", 0),
                               cmd.get("flag", 0), cmd.get("remark") or "", ext)
            put("header_binary", bh)
            put("frame", b"\x00" + struct.pack(">iI", 4 + len(bh), (1 << 24) | len(bh)) + bh)
        if len(b) == 8768:
            put("stored_message", b)
            size = struct.unpack(">i", b[:4])[0]
            put("stored_message", b[:size])
    # Two frames back to back, and one cut short.
    put("frame", b"\x00" + frames[0] + frames[1])
    put("frame", b"\x02" + frames[1][: len(frames[1]) // 2])

    fixtures = [
        '{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10912"},"brokerName":"b","cluster":"C",'
        '"enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"b","perm":6,'
        '"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}',
        '{"brokerAddrTable":{"b":{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"b","cluster":"C"}},'
        '"clusterAddrTable":{"C":["b"]}}',
        '{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":7,"maxOffset":3,'
        '"minOffset":0}}}',
        '{"consumeTps":0.0,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"brokerOffset":10,'
        '"consumerOffset":4,"lastTimestamp":5,"pullOffset":4}}}',
        '{"offsetTable":[[{"topic":"T","brokerName":"broker-a","queueId":0},5]]}',
        '{"topicConfigSerializeWrapper":{"dataVersion":{"counter":1,"timestamp":2},"topicConfigTable":{"T":'
        '{"topicName":"T","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicFilterType":"SINGLE_TAG",'
        '"attributes":{}}}},"filterServerList":[]}',
        '{"clientID":"c","consumerGroup":"g","mqSet":[{"brokerName":"b","queueId":0,"topic":"T"}]}',
        '{"lockOKMQSet":[{"brokerName":"b","queueId":1,"topic":"T"}]}',
    ]
    for body in sorted(bodies) + [f.encode() for f in fixtures]:
        for sel in range(JSON_BODY_TYPES):
            put("json_bodies", bytes([sel]) + body)

    # Batch body: two records as in message/batch.rs's layout test.
    rec = struct.pack(">iiiii", 28, 0, 0, 1, 2) + b"ab" + struct.pack(">h", 4) + b"K\x01V\x02"
    put("batch_body", rec)
    put("batch_body", rec + rec)

    put("properties", "TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C00002022F2FAC4C820C74C3063B0001\x02\x00KEYS")
    put("properties", "A\x011\x02\x01x\x02B\x01\x02noseparator\x02C\x01a\x01b\x02D\x014")
    put("msg_id", "7F0000010000A2CF0000000000000112")
    put("msg_id", "FE8000000000000000000000000000010000A2CF0000000000000112")

    table = (ROOT / "rmq-filter/tests/table.rs").read_text()
    for expr in sorted(set(re.findall(r'^\s*\("((?:[^"\\]|\\.)*)", P,', table, re.M)))[:60]:
        put("sql92", expr.encode().decode("unicode_escape"))
    put("sql92", "price > 10 AND region IN ('eu', 'us')\x00price\x0112\x02region\x01eu\x02")

    put("broker_conf", "brokerClusterName=DefaultCluster\nbrokerName=broker-a\nbrokerId=0\n"
                       "namesrvAddr=127.0.0.1:9876;127.0.0.1:9877\nlistenPort=10911\ndeleteWhen=04;05\n"
                       "fileReservedTime=48\nbrokerRole=ASYNC_MASTER\nflushDiskType=ASYNC_FLUSH\n"
                       "messageDelayLevel=1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h\n"
                       "storePathRootDir=C\\:\\\\store\\u0041\nbrokerIP1=10.0.0.1\nmetricsExporterType=PROM\n")
    put("settings", (ROOT / "examples-shop/application.toml").read_text())
    put("settings", '[rocketmq]\nname-server = "${NS:127.0.0.1:9876}"\n[rocketmq.producer]\ngroup = "g"\n'
                    'send-message-timeout = 3000\n[rocketmq.consumer.listeners.g]\nt = false\n')


if __name__ == "__main__":
    main()
