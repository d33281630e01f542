#!/usr/bin/env python3
"""Apache's C++ client against any RocketMQ name server: the checks of scripts/interop-peer.sh.

    interop-cpp-check.py --namesrv HOST:PORT --topic T [--count N] [--python PY]

The topic must exist (4 queues) before this runs: the C++ client polls routes every 30 s. It drives
tests/cpp/driver.py (the same driver the test suite uses) with the interpreter that has `rocketmq==0.4.4`,
and prints one line per check, `PASS name detail` or `FAIL name detail`; the exit code is 0 only when all pass.

Checks: a C++ push consumer (clustering) receives every message a C++ producer sent in sync, async, oneway
and orderly modes, with body, tags, keys and a non-ASCII property intact; a C++ pull consumer pulls exactly
the TagA/TagB subset by tag expression; orderly sends of one shard are pulled in send order.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "..", "tests", "cpp", "driver.py")
TAGS = ["TagA", "TagB", "TagC"]
MODES = ["sync", "async", "oneway", "orderly"]


def spec(topic, i):
    return {
        "topic": topic,
        "body": "c++ peer check %d · ünïcødé · 青い空" % i,
        "tags": TAGS[i % 3],
        "keys": "key-%d" % i,
        "props": {"idx": str(i), "colour": "grün-%d" % (i % 5)},
        "mode": MODES[i % 4],
        "shard": 7,
    }


class Driver:
    """One driver.py process; events are read on a thread into a list."""

    def __init__(self, python, sub, args):
        self.home = tempfile.mkdtemp(prefix="rmq-cpp-peer-")
        env = dict(os.environ, HOME=self.home)
        self.proc = subprocess.Popen([python, DRIVER, sub], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, text=True)
        self.proc.stdin.write(json.dumps(args) + "\n")
        self.proc.stdin.flush()
        self.events = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()

    def wait(self, pred, timeout):
        deadline = time.time() + timeout
        with self.cond:
            while not pred(self.events):
                left = deadline - time.time()
                if left <= 0 or self.proc.poll() is not None and not pred(self.events):
                    return pred(self.events)
                self.cond.wait(min(left, 0.5))
            return True

    def stop(self):
        try:
            self.proc.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def msgs(events):
    return [e for e in events if e.get("event") == "msg"]


def intact(m, topic):
    i = int((m.get("props") or {}).get("idx", "-1"))
    if i < 0:
        return None
    want = spec(topic, i)
    ok = (m.get("body") == want["body"] and m.get("tags") == want["tags"] and m.get("keys") == want["keys"]
          and (m.get("props") or {}).get("colour") == want["props"]["colour"])
    return i if ok else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--namesrv", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--python", default=os.environ.get("RMQ_CPP_PYTHON", "python3"))
    ap.add_argument("--timeout", type=float, default=90)
    a = ap.parse_args()
    run = str(int(time.time() * 1000))
    results = []

    def check(name, ok, detail):
        results.append(ok)
        print("%s %s %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)

    push = Driver(a.python, "push", {"namesrv": a.namesrv, "group": "cpp_peer_push_" + run, "topic": a.topic,
                                     "props": ["idx", "colour"], "consumer": "push"})
    ready = push.wait(lambda ev: any(e.get("event") == "ready" for e in ev), 60)
    check("cpp-push-consumer-start", ready, "")
    messages = [spec(a.topic, i) for i in range(a.count)]
    prod = Driver(a.python, "produce", {"namesrv": a.namesrv, "group": "cpp_peer_prod_" + run,
                                        "messages": messages})
    prod.wait(lambda ev: any(e.get("event") in ("done", "fatal") for e in ev), a.timeout)
    sent = [e for e in prod.events if e.get("event") == "sent"]
    failed = [e for e in prod.events if e.get("event") == "send_failed"]
    check("cpp-producer-sends", len(sent) == a.count and not failed,
          "%d sent, %d failed%s" % (len(sent), len(failed), (": %s" % failed[0].get("error")) if failed else ""))
    prod.stop()

    def all_received(ev):
        return len({intact(m, a.topic) for m in msgs(ev)} - {None}) >= a.count

    push.wait(all_received, a.timeout)
    push.stop()
    got = msgs(push.events)
    distinct = {intact(m, a.topic) for m in got} - {None}
    broken = [m for m in got if intact(m, a.topic) is None]
    check("cpp-push-receives-all-intact", len(distinct) == a.count and not broken,
          "%d of %d distinct, %d deliveries, %d altered" % (len(distinct), a.count, len(got), len(broken)))
    pull = Driver(a.python, "pull", {"namesrv": a.namesrv, "group": "cpp_peer_pull_" + run, "topic": a.topic,
                                     "expression": "TagA || TagB", "props": ["idx", "colour"]})
    pull.wait(lambda ev: any(e.get("event") in ("done", "fatal") for e in ev), a.timeout)
    pull.stop()
    pulled = {intact(m, a.topic) for m in msgs(pull.events)} - {None}
    want = {i for i in range(a.count) if TAGS[i % 3] in ("TagA", "TagB")}
    check("cpp-pull-by-tag", pulled == want, "%d pulled, %d expected" % (len(pulled), len(want)))
    # Orderly sends of one shard share a queue; a pull reads a queue in offset order.
    orderly = [i for i in (intact(m, a.topic) for m in msgs(pull.events))
               if i is not None and MODES[i % 4] == "orderly"]
    want_orderly = sorted(i for i in want if MODES[i % 4] == "orderly")
    check("cpp-orderly-shard-in-order", orderly == want_orderly,
          "%d of %d orderly messages pulled, in send order" % (len(orderly), len(want_orderly)))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
