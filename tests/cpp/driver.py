#!/usr/bin/env python3
"""Drives Apache's C++ RocketMQ client for rmq's interop tests (tests/tests/interop_cpp_client*.rs).

The client is librocketmq as shipped in the PyPI wheel `rocketmq==0.4.4` (C++ client "1.0.1", 2018), reached
through that wheel's ctypes binding, `rocketmq.client` -- the core under Apache's Python 2.x, Node.js and PHP
clients.

    driver.py <subcommand>

The subcommand's arguments are one JSON object on the first line of stdin; what happens is reported as JSON
lines on stdout, one event per line, every line flushed at once:

    {"event": "ready", ...}      the client started (consumers: subscribed and rebalanced)
    {"event": "sent", ...}       one message sent (produce), with the send result
    {"event": "send_failed", ...}
    {"event": "msg", ...}        one message delivered to a listener / pulled
    {"event": "done", ...}       produce / pull finished
    {"event": "stopped"}         the client shut down; the process exits 0 right after
    {"event": "fatal", ...}      the driver itself failed (bad arguments, start failure); exits 1

Push consumers run until stdin reaches EOF (or a line `{"cmd": "stop"}` arrives), then shut down.
Subcommands and their arguments are documented at their functions below. Diagnostics go to stderr; the
C++ client logs to ~/logs/rocketmq-cpp/ (the tests give each driver its own HOME).
"""

import ctypes
import json
import os
import sys
import threading
import time
import traceback

_OUT_LOCK = threading.Lock()


def emit(event, **fields):
    """Writes one event line to stdout (thread-safe: listeners run on the client's threads)."""
    fields["event"] = event
    line = json.dumps(fields, ensure_ascii=True)
    with _OUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def now_ms():
    return int(time.time() * 1000)


def text(value):
    """A c_char_p result (bytes or None) as text; None stays None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def describe(recv, props, consumer, received_ms):
    """A delivered message (rocketmq.client.RecvMessage) as a `msg` event's fields."""
    body = recv.body or b""
    fields = {
        "consumer": consumer,
        "topic": text(recv.topic),
        "tags": text(recv.tags),
        "keys": text(recv.keys),
        "id": text(recv.id),
        "body_len": len(body),
        "reconsume_times": recv.reconsume_times,
        "queue_id": recv.queue_id,
        "queue_offset": recv.queue_offset,
        "born_timestamp": recv.born_timestamp,
        "store_timestamp": recv.store_timestamp,
        "delay_level": recv.delay_time_level,
        "received_ms": received_ms,
        "thread": threading.get_ident(),
        # The binding answers "" for an absent property: reported as null (an empty value cannot be told apart).
        "props": {name: text(recv.get_property(name)) or None for name in props},
    }
    try:
        fields["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        fields["body_hex"] = body.hex()
    return fields


def build_message(spec):
    """A rocketmq.client.Message from {topic, body, tags?, keys?, props?, delay_level?}."""
    from rocketmq.client import Message

    msg = Message(spec["topic"])
    if spec.get("keys") is not None:
        msg.set_keys(spec["keys"])
    if spec.get("tags") is not None:
        msg.set_tags(spec["tags"])
    msg.set_body(spec.get("body", ""))
    for key, value in (spec.get("props") or {}).items():
        msg.set_property(key, value)
    if spec.get("delay_level"):
        msg.set_delay_time_level(int(spec["delay_level"]))
    return msg


def error_fields(exc):
    """An exception as event fields (the async failure carries the C++ exception's bytes and error code)."""
    message = exc.args[0] if exc.args else str(exc)
    fields = {"error_type": type(exc).__name__, "error": text(message) if isinstance(message, bytes) else str(message)}
    if getattr(exc, "error", None) is not None:
        fields["error_code"] = exc.error
    return fields


def produce(args):
    """Sends `messages` with one Producer, in list order; reports every result.

    Arguments: namesrv, group, timeout_ms?, compress_level?, max_message_size?, async_timeout_s? (how long to
    wait for the callbacks of async sends, default 30), messages: a list of
        {topic, body, tags?, keys?, props?, delay_level?,
         mode: "sync" | "async" | "oneway" | "orderly" | "oneway_orderly" | "batch",
         shard?: int (orderly modes: the selector argument; the binding picks queue shard % queue count),
         batch?: any (batch mode: messages with equal `batch` values go in one send_batch, sent where the
                      first of them appears)}
    Events: ready; per message `sent` {i, mode, status, msg_id, offset} (oneway modes: status "ONEWAY") or
    `send_failed` {i, mode, error_type, error}; a batch reports each member with the batch's result; then
    `done` {sent, failed}.
    """
    from rocketmq.client import Producer

    producer = Producer(
        args["group"],
        timeout=args.get("timeout_ms"),
        compress_level=args.get("compress_level"),
        max_message_size=args.get("max_message_size"),
    )
    producer.set_namesrv_addr(args["namesrv"])
    producer.start()
    emit("ready")

    messages = args["messages"]
    counts = {"sent": 0, "failed": 0}
    count_lock = threading.Lock()
    pending = {"n": 0}
    all_answered = threading.Condition(count_lock)
    # The binding keeps the Message objects referenced only by us: keep async ones alive until answered.
    in_flight = {}

    def report(i, mode, result=None, exc=None):
        if exc is None:
            if result is None:
                emit("sent", i=i, mode=mode, status="ONEWAY", msg_id=None, offset=None)
            else:
                emit("sent", i=i, mode=mode, status=result.status.name, msg_id=result.msg_id,
                     offset=result.offset)
        else:
            emit("send_failed", i=i, mode=mode, **error_fields(exc))
        with count_lock:
            counts["sent" if exc is None else "failed"] += 1

    batched = set()
    for i, spec in enumerate(messages):
        mode = spec.get("mode", "sync")
        if i in batched:
            continue
        try:
            if mode == "sync":
                report(i, mode, producer.send_sync(build_message(spec)))
            elif mode == "oneway":
                producer.send_oneway(build_message(spec))
                report(i, mode)
            elif mode == "orderly":
                report(i, mode, producer.send_orderly(build_message(spec), int(spec.get("shard", 0))))
            elif mode == "oneway_orderly":
                producer.send_oneway_orderly(build_message(spec), int(spec.get("shard", 0)))
                report(i, mode)
            elif mode == "async":
                msg = build_message(spec)

                def on_success(result, i=i):
                    report(i, "async", result)
                    answered(i)

                def on_exception(exc, i=i):
                    report(i, "async", exc=exc)
                    answered(i)

                def answered(i):
                    with count_lock:
                        in_flight.pop(i, None)
                        pending["n"] -= 1
                        all_answered.notify_all()

                with count_lock:
                    in_flight[i] = msg
                    pending["n"] += 1
                try:
                    producer.send_async(msg, on_success, on_exception)
                except Exception:
                    with count_lock:
                        in_flight.pop(i, None)
                        pending["n"] -= 1
                    raise
            elif mode == "batch":
                members = [j for j in range(i, len(messages))
                           if messages[j].get("mode") == "batch"
                           and messages[j].get("batch") == spec.get("batch")]
                batched.update(members)
                try:
                    result = producer.send_batch([build_message(messages[j]) for j in members])
                except Exception as exc:
                    for j in members:
                        report(j, mode, exc=exc)
                else:
                    for j in members:
                        report(j, mode, result)
            else:
                raise ValueError("unknown send mode %r" % mode)
        except Exception as exc:  # a refused send is a result, not a driver failure
            report(i, mode, exc=exc)

    deadline = time.time() + float(args.get("async_timeout_s", 30))
    with count_lock:
        while pending["n"] > 0 and time.time() < deadline:
            all_answered.wait(timeout=max(0.0, deadline - time.time()))
        unanswered = sorted(in_flight)
    if unanswered:
        emit("fatal", error="async sends without a callback after the timeout: %s" % unanswered)
    emit("done", sent=counts["sent"], failed=counts["failed"])
    producer.shutdown()
    emit("stopped")


def push(args):
    """Runs one PushConsumer until stdin ends (or a `{"cmd": "stop"}` line arrives).

    Arguments: namesrv, group, topic, expression? ("*"), orderly? (false), model? ("CLUSTERING" |
    "BROADCASTING"), thread_count?, batch_max_size?, instance_name?, consumer? (a label copied into every
    `msg` event), props? (names of the properties to report; the binding cannot list them).
    A message whose user property `fail_until` holds N makes the listener raise while its reconsume count is
    below N, which the binding turns into RECONSUME_LATER (the event then says "raised": true).
    Events: ready (after start, i.e. after the first rebalance), one `msg` per delivery, stopped.
    """
    from rocketmq.client import PushConsumer
    from rocketmq.ffi import MessageModel

    model = getattr(MessageModel, args.get("model", "CLUSTERING"))
    consumer = PushConsumer(args["group"], orderly=bool(args.get("orderly", False)), message_model=model)
    consumer.set_namesrv_addr(args["namesrv"])
    if args.get("thread_count"):
        consumer.set_thread_count(int(args["thread_count"]))
    if args.get("batch_max_size"):
        consumer.set_message_batch_max_size(int(args["batch_max_size"]))
    if args.get("instance_name"):
        consumer.set_instance_name(args["instance_name"])
    label = args.get("consumer", args["group"])
    props = list(args.get("props") or [])
    if "fail_until" not in props:
        props.append("fail_until")

    class Redeliver(Exception):
        """Raised by the listener to ask for a redelivery."""

    def on_message(recv):
        fields = describe(recv, props, label, now_ms())
        fail_until = fields["props"].get("fail_until")
        raise_it = fail_until is not None and recv.reconsume_times < int(fail_until)
        fields["raised"] = raise_it
        emit("msg", **fields)
        if raise_it:
            raise Redeliver("fail_until=%s, reconsume_times=%d" % (fail_until, recv.reconsume_times))

    consumer.subscribe(args["topic"], on_message, args.get("expression", "*"))
    consumer.start()
    emit("ready")
    for line in sys.stdin:
        line = line.strip()
        if line and json.loads(line).get("cmd") == "stop":
            break
    consumer.shutdown()
    emit("stopped")


def pull(args):
    """Pulls every queue of `topic` from offset 0 to its end with one PullConsumer.

    Arguments: namesrv, group, topic, expression? ("*"), max_num? (32), props? (names to report).
    Events: ready, one `msg` per message pulled, done {count}, stopped.
    """
    from rocketmq.client import PullConsumer

    consumer = PullConsumer(args["group"])
    consumer.set_namesrv_addr(args["namesrv"])
    consumer.start()
    emit("ready")
    props = list(args.get("props") or [])
    label = args.get("consumer", args["group"])
    count = 0
    for recv in consumer.pull(args["topic"], args.get("expression", "*"), int(args.get("max_num", 32))):
        emit("msg", **describe(recv, props, label, now_ms()))
        count += 1
    emit("done", count=count)
    consumer.shutdown()
    emit("stopped")


SUBCOMMANDS = {"produce": produce, "push": push, "pull": pull}


def quiet_unraisable(unraisable):
    """One stderr line (not a traceback) per exception raised out of a listener, which the binding re-raises
    through ctypes on purpose."""
    sys.stderr.write("listener raised (the client redelivers): %r\n" % (unraisable.exc_value,))


def main():
    sys.unraisablehook = quiet_unraisable
    if len(sys.argv) != 2 or sys.argv[1] not in SUBCOMMANDS:
        sys.stderr.write("usage: driver.py {%s} < args.json\n" % "|".join(sorted(SUBCOMMANDS)))
        return 2
    try:
        args = json.loads(sys.stdin.readline())
        SUBCOMMANDS[sys.argv[1]](args)
    except Exception as exc:
        traceback.print_exc()
        emit("fatal", **error_fields(exc))
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the binding's __del__ methods shut the client down a second time and destroy
    # it while its threads may still run, which can crash or hang at exit. Everything was shut down above.
    os._exit(code)
