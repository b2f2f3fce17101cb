//! Fetching a trial's data from an http(s) URL into the pod's scratch volume.
use std::io::Write;
use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Downloads `url` into `dir` (following up to 5 redirects) and returns the file and the
/// SHA-256 of its bytes.
pub fn download(url: &str, dir: &Path) -> Result<(PathBuf, String)> {
    let fail = |message: String| Error::Download { url: url.to_string(), message };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::Runtime { what: format!("fetching {url}"), source: e })?;
    runtime.block_on(async {
        let https = hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
        let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(https);
        let mut current: hyper::Uri = url.parse().map_err(|e| fail(format!("not a URL ({e})")))?;
        for _ in 0..6 {
            let response = client.get(current.clone()).await.map_err(|e| fail(e.to_string()))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers().get(hyper::header::LOCATION).and_then(|l| l.to_str().ok()).ok_or_else(|| fail(format!("{status} without a Location")))?;
                current = resolve(&current, location).map_err(fail)?;
                continue;
            }
            if !status.is_success() {
                return Err(fail(format!("the server answered {status}")));
            }
            let path = dir.join(file_name(&current.to_string()));
            let mut file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
            let mut hasher = Sha256::new();
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| fail(e.to_string()))?;
                if let Some(chunk) = frame.data_ref() {
                    hasher.update(chunk);
                    file.write_all(chunk).map_err(|e| Error::io(&path, e))?;
                }
            }
            file.sync_all().map_err(|e| Error::io(&path, e))?;
            let digest = crate::util::hex(&hasher.finalize());
            return Ok((path, digest));
        }
        Err(fail("too many redirects".into()))
    })
}

fn resolve(base: &hyper::Uri, location: &str) -> std::result::Result<hyper::Uri, String> {
    if location.contains("://") {
        return location.parse().map_err(|e| format!("bad redirect {location}: {e}"));
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    format!("{scheme}://{authority}{location}").parse().map_err(|e| format!("bad redirect {location}: {e}"))
}

/// The file a download of `url` is saved as: the last segment of its path, made safe.
pub fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let path = path.split_once("://").map_or(path, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let name = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("data.csv");
    name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}
