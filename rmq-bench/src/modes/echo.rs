//! The machine's ceiling: a length-prefixed echo over loopback with the same frame size and the same
//! pipelining as the client (`concurrency` in flight on one connection), and no work in between.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

use crate::cli::EchoArgs;
use crate::report::Report;
use crate::stats::{drive, Meter};

/// Runs the echo server on its own thread (its own runtime, as a broker would be its own process) and
/// drives it from this one.
pub async fn run(args: EchoArgs) -> Result<Report> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind")?;
    let addr = std_listener.local_addr()?;
    std_listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("echo-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok(listener) = TcpListener::from_std(std_listener) {
                        while let Ok((sock, _)) = listener.accept().await {
                            tokio::spawn(serve(sock));
                        }
                    }
                });
            }
        })?;
    let sock = TcpStream::connect(addr).await?;
    sock.set_nodelay(true)?;
    let (rd, wr) = sock.into_split();
    let meter = Arc::new(Meter::new());
    let inflight = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let sent_at: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
    let size = args.size.max(4);
    let writer = {
        let (inflight, sent_at) = (inflight.clone(), sent_at.clone());
        tokio::spawn(async move {
            let mut wr = BufWriter::with_capacity(256 * 1024, wr);
            let mut frame = vec![0u8; size];
            frame[..4].copy_from_slice(&((size - 4) as u32).to_be_bytes());
            loop {
                let Ok(p) = inflight.acquire().await else {
                    return;
                };
                p.forget();
                sent_at.lock().push_back(Instant::now());
                if wr.write_all(&frame).await.is_err() {
                    return;
                }
                while let Ok(p) = inflight.try_acquire() {
                    p.forget();
                    sent_at.lock().push_back(Instant::now());
                    if wr.write_all(&frame).await.is_err() {
                        return;
                    }
                }
                if wr.flush().await.is_err() {
                    return;
                }
            }
        })
    };
    let reader = {
        let (inflight, sent_at, meter) = (inflight.clone(), sent_at.clone(), meter.clone());
        tokio::spawn(async move {
            let mut rd = BufReader::with_capacity(256 * 1024, rd);
            let mut buf = vec![0u8; size];
            while rd.read_exact(&mut buf).await.is_ok() {
                if let Some(t) = sent_at.lock().pop_front() {
                    meter.latency.record(0, t.elapsed());
                }
                meter.done(1, size as u64);
                inflight.add_permits(1);
            }
        })
    };
    let never = tokio::sync::Notify::new();
    let (seconds, cpu) = drive(
        &[("echo", &meter)],
        Duration::from_secs(1),
        Some(Duration::from_secs_f64(args.duration.max(0.1))),
        &never,
        &|| String::new(),
        None,
    )
    .await;
    let summary = meter.summary(seconds);
    let messages = summary.messages;
    writer.abort();
    reader.abort();
    let mut report = Report {
        mode: "echo".into(),
        flush: "-".into(),
        size,
        concurrency: args.concurrency,
        seconds: seconds.as_secs_f64(),
        send: Some(summary),
        ..Report::default()
    };
    // Server and client are both in this process: the figure is the whole round trip's CPU.
    report.cpu(&cpu, messages);
    Ok(report)
}

async fn serve(sock: TcpStream) {
    let _ = sock.set_nodelay(true);
    let (rd, wr) = sock.into_split();
    let mut rd = BufReader::with_capacity(256 * 1024, rd);
    let mut wr = BufWriter::with_capacity(256 * 1024, wr);
    let mut buf = Vec::new();
    loop {
        let Ok(len) = rd.read_u32().await else { return };
        buf.resize(len as usize, 0);
        if rd.read_exact(&mut buf).await.is_err()
            || wr.write_u32(len).await.is_err()
            || wr.write_all(&buf).await.is_err()
        {
            return;
        }
        // Flush only when nothing more is already buffered: the same batching a server does.
        if rd.buffer().is_empty() && wr.flush().await.is_err() {
            return;
        }
    }
}
