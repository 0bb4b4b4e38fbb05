//! A test server that misbehaves on purpose: raw TCP (HTTP/1.1 written by
//! hand) or TLS with certificates made by rcgen (trusted, self-signed,
//! expired, for another host). A script decides, request by request, what
//! it does: answer, never answer, answer the headers and stall, flood a
//! body, reset in the middle of a body, close. It records what it saw (each
//! request, the connections accepted, the body bytes it managed to write),
//! so a test can assert what the library sent and how much it read.
#![allow(dead_code)]

use mscommerce::ffi::*;
use serde_json::Value;
use std::ffi::{c_char, CStr, CString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one request.
pub enum Reply {
    /// A whole answer, with a Content-Length; the connection stays usable.
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request and never answer; the connection stays open.
    Silence,
    /// The status line and headers (announcing a body), then nothing.
    HeadersThenStall { status: u16 },
    /// `len` bytes of body without a Content-Length (it ends with the
    /// connection), written as fast as the client reads them; the JSON of
    /// a token answer begins it.
    Flood { status: u16, len: u64 },
    /// Headers announcing all of `body`, its first `sent` bytes, then a
    /// TCP reset.
    ResetMidBody {
        status: u16,
        body: Vec<u8>,
        sent: usize,
    },
    /// Close the connection without answering.
    Close,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::json_with(status, &[], body)
    }

    pub fn json_with(status: u16, headers: &[(&str, &str)], body: Value) -> Reply {
        let mut h: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        h.push(("Content-Type".into(), "application/json".into()));
        Reply::Answer {
            status,
            headers: h,
            body: body.to_string().into_bytes(),
        }
    }

    /// A token endpoint's answer.
    pub fn token() -> Reply {
        Reply::json(
            200,
            serde_json::json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "hostile-token"}),
        )
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct Shared {
    script: Box<Script>,
    seen: Mutex<Vec<Seen>>,
    connections: AtomicU64,
    body_bytes_written: AtomicU64,
}

/// The certificate a TLS server shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Certificate {
    /// For 127.0.0.1 and localhost, signed by the CA of [`Hostile::ca_file`].
    Trusted,
    /// For 127.0.0.1, signed by itself (UnknownIssuer).
    SelfSigned,
    /// For 127.0.0.1, signed by the CA, expired.
    Expired,
    /// Signed by the CA, for another host.
    WrongHost,
}

pub struct Hostile {
    pub addr: SocketAddr,
    tls: bool,
    ca_pem: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Hostile {
    /// A plain HTTP server on 127.0.0.1.
    pub fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Hostile {
        Self::launch(None, script)
    }

    /// A TLS server on 127.0.0.1 showing `certificate`.
    pub fn start_tls(
        certificate: Certificate,
        script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> Hostile {
        Self::launch(Some(certificate), script)
    }

    fn launch(
        certificate: Option<Certificate>,
        script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> Hostile {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (ca_pem, acceptor) = match certificate {
            None => (String::new(), None),
            Some(c) => {
                let (ca, config) = tls_material(c);
                (ca, Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
            }
        };
        // Made without block_on, so a server can start inside an async test.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = {
            let _context = runtime.enter();
            TcpListener::from_std(std_listener).unwrap()
        };
        let shared = Arc::new(Shared {
            script: Box::new(script),
            seen: Mutex::new(Vec::new()),
            connections: AtomicU64::new(0),
            body_bytes_written: AtomicU64::new(0),
        });
        let s = shared.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::SeqCst);
                let (s, acceptor) = (s.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        None => serve(stream, &s).await,
                        Some(a) => {
                            if let Ok(tls) = a.accept(stream).await {
                                serve(tls, &s).await;
                            }
                        }
                    }
                });
            }
        });
        Hostile {
            addr,
            tls: certificate.is_some(),
            ca_pem,
            shared,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!(
            "{}://127.0.0.1:{}",
            if self.tls { "https" } else { "http" },
            self.addr.port()
        )
    }

    /// The test CA's PEM written to `dir` (for caCertificatePath).
    pub fn ca_file(&self, dir: &Path) -> PathBuf {
        let p = dir.join(format!("hostile-ca-{}.pem", self.addr.port()));
        std::fs::write(&p, &self.ca_pem).unwrap();
        p
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub fn seen_method(&self, method: &str) -> usize {
        self.seen().iter().filter(|s| s.method == method).count()
    }

    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Body bytes of [`Reply::Flood`] that reached the socket.
    pub fn body_bytes_written(&self) -> u64 {
        self.shared.body_bytes_written.load(Ordering::SeqCst)
    }
}

/// The test CA, and a server configuration showing `certificate`.
fn tls_material(certificate: Certificate) -> (String, rustls::ServerConfig) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        SanType,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "hostile test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let host = match certificate {
        Certificate::WrongHost => "wrong.example",
        _ => "localhost",
    };
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec![host.to_string()]).unwrap();
    if certificate != Certificate::WrongHost {
        leaf.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    }
    leaf.distinguished_name.push(DnType::CommonName, host);
    leaf.is_ca = IsCa::ExplicitNoCa;
    if certificate == Certificate::Expired {
        leaf.not_before = rcgen::date_time_ymd(2020, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let leaf_cert = match certificate {
        Certificate::SelfSigned => leaf.self_signed(&leaf_key).unwrap(),
        _ => leaf.signed_by(&leaf_key, &issuer).unwrap(),
    };
    let key = rustls_pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca_cert.pem(), config)
}

/// Serve the requests of one connection, as the script says.
async fn serve<S: AsyncRead + AsyncWrite + Unpin + Peer>(mut stream: S, shared: &Shared) {
    loop {
        let Some(seen) = read_request(&mut stream).await else {
            return;
        };
        let index = {
            let mut all = shared.seen.lock().unwrap();
            all.push(seen.clone());
            all.len() - 1
        };
        match (shared.script)(&seen, index) {
            Reply::Answer {
                status,
                headers,
                body,
            } => {
                let mut head = status_line(status);
                for (k, v) in &headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(&body).await.is_err()
                    || stream.flush().await.is_err()
                {
                    return;
                }
            }
            Reply::Silence => {
                std::future::pending::<()>().await;
            }
            Reply::HeadersThenStall { status } => {
                let head = format!(
                    "{}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
                    status_line(status)
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.flush().await;
                std::future::pending::<()>().await;
            }
            Reply::Flood { status, len } => {
                let head = format!(
                    "{}Content-Type: application/json\r\nConnection: close\r\n\r\n",
                    status_line(status)
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let start = br#"{"token_type":"Bearer","expires_in":3600,"access_token":""#;
                let chunk = vec![b'a'; 64 * 1024];
                let mut left = len;
                let mut first = true;
                while left > 0 {
                    let piece: &[u8] = if first { start } else { &chunk };
                    first = false;
                    let n = piece.len().min(left as usize);
                    if stream.write_all(&piece[..n]).await.is_err() {
                        return;
                    }
                    shared
                        .body_bytes_written
                        .fetch_add(n as u64, Ordering::SeqCst);
                    left -= n as u64;
                }
                let _ = stream.shutdown().await;
                return;
            }
            Reply::ResetMidBody { status, body, sent } => {
                let head = format!(
                    "{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    status_line(status),
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body[..sent.min(body.len())]).await;
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                stream.reset();
                return;
            }
            Reply::Close => return,
        }
    }
}

fn status_line(status: u16) -> String {
    format!("HTTP/1.1 {status} Hostile\r\n")
}

/// What a connection can do beyond reading and writing: a reset.
trait Peer {
    /// Close with a TCP RST (SO_LINGER 0) instead of a FIN.
    fn reset(self);
}

impl Peer for TcpStream {
    fn reset(self) {
        let _ = self.set_zero_linger();
    }
}

impl Peer for tokio_rustls::server::TlsStream<TcpStream> {
    fn reset(self) {
        let _ = self.get_ref().0.set_zero_linger();
    }
}

/// One request (head and Content-Length body); `None` at the end of the
/// connection or on anything unreadable.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&byte[..n]);
    }
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// ---- the C ABI, called in-process ----

pub type CallFn = unsafe extern "C" fn(*mut MscSession, *const c_char, *mut *mut c_char) -> i32;

/// An answer of the C ABI: its code, its JSON, how long the call took.
#[derive(Debug)]
pub struct Answer {
    pub code: i32,
    pub json: Value,
    pub text: String,
    pub took: Duration,
}

impl Answer {
    pub fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or_default()
    }

    pub fn error(&self) -> &Value {
        &self.json["error"]
    }
}

fn take(code: i32, out: *mut c_char, took: Duration) -> Answer {
    assert!(!out.is_null(), "out_json not set (code {code})");
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
    unsafe { msc_string_free(out) };
    let json: Value = serde_json::from_str(&text).expect("answer is JSON");
    Answer {
        code,
        json,
        text,
        took,
    }
}

/// A session of the C ABI (freed when dropped).
pub struct AbiSession(*mut MscSession);

// The handle is only an address; the library allows calls from any thread.
unsafe impl Send for AbiSession {}
unsafe impl Sync for AbiSession {}

impl AbiSession {
    /// `msc_session_new`: the session, or the error answer.
    pub fn new(options: &Value) -> Result<AbiSession, Answer> {
        let options = CString::new(options.to_string()).unwrap();
        let mut s = ptr::null_mut();
        let mut out = ptr::null_mut();
        let started = Instant::now();
        let code = unsafe { msc_session_new(options.as_ptr(), &mut s, &mut out) };
        let answer = take(code, out, started.elapsed());
        if code == 0 {
            Ok(AbiSession(s))
        } else {
            assert!(s.is_null());
            Err(answer)
        }
    }

    pub fn call_raw(&self, f: CallFn, request: &str) -> Answer {
        let request = CString::new(request).unwrap();
        let mut out = ptr::null_mut();
        let started = Instant::now();
        let code = unsafe { f(self.0, request.as_ptr(), &mut out) };
        take(code, out, started.elapsed())
    }

    pub fn connect(&self, request: &Value) -> Answer {
        self.call_raw(msc_connect, &request.to_string())
    }

    pub fn get(&self, request: &Value) -> Answer {
        self.call_raw(msc_get, &request.to_string())
    }

    pub fn update(&self, request: &Value) -> Answer {
        self.call_raw(msc_update, &request.to_string())
    }
}

impl Drop for AbiSession {
    fn drop(&mut self) {
        unsafe { msc_session_free(self.0) };
    }
}

/// No character a terminal acts on: C0 and C1 controls, DEL.
pub fn is_clean(text: &str) -> bool {
    !text.chars().any(char::is_control)
}
