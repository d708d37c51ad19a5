//! `registry update`: fetch current copies of the registry files, check
//! them with the same loader that will read them, and only then swap them in.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::EnrichError;
use crate::registry::{verify_file, RegistryConfig, SourceRole};

/// Registry files are tens of megabytes; refuse anything absurdly larger.
const MAX_DOWNLOAD: u64 = 2 << 30;

/// One file `registry update` replaced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpdatedFile {
    /// Where it came from.
    pub url: String,
    /// The file it replaced (or created).
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// How many address ranges it holds.
    pub ranges: usize,
}

/// What `registry update` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpdateReport {
    /// Every file replaced, in config order.
    pub files: Vec<UpdatedFile>,
}

struct Job<'a> {
    url: &'a str,
    target: &'a Path,
    role: SourceRole,
    temp: PathBuf,
}

/// Download every URL of `[registry.update]` to a temporary file beside its
/// target, verify each one (it must load with the registry loader and hold
/// at least one range), then rename each over its target.
///
/// Nothing is replaced unless every download verified: on any failure the
/// old files stay as they were, the temporary files are removed, and the
/// error names the URL.
pub fn update(config: &RegistryConfig) -> Result<UpdateReport, EnrichError> {
    let mut jobs = Vec::new();
    for (urls, targets, role) in [
        (&config.update.country, &config.country, SourceRole::Country),
        (&config.update.asn, &config.asn, SourceRole::Asn),
        (&config.update.rir, &config.rir, SourceRole::Rir),
    ] {
        for (url, target) in urls.iter().zip(targets) {
            let name = target
                .file_name()
                .map_or_else(|| "registry".into(), |n| n.to_string_lossy().into_owned());
            let temp = target.with_file_name(format!(".{name}.download-{}", std::process::id()));
            jobs.push(Job {
                url,
                target,
                role,
                temp,
            });
        }
    }
    if jobs.is_empty() {
        return Err(EnrichError::update(
            "[registry.update]",
            "no URLs configured: add country/asn/rir URLs under [registry.update]",
        ));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30 * 60)))
        .timeout_connect(Some(Duration::from_secs(30)))
        .build()
        .into();

    let mut report = UpdateReport::default();
    for job in &jobs {
        match fetch_and_verify(&agent, job) {
            Ok((bytes, ranges)) => report.files.push(UpdatedFile {
                url: job.url.to_string(),
                path: job.target.to_path_buf(),
                bytes,
                ranges,
            }),
            Err(problem) => {
                for j in &jobs {
                    let _ = std::fs::remove_file(&j.temp);
                }
                return Err(EnrichError::update(job.url, problem));
            }
        }
    }
    for job in &jobs {
        if let Err(e) = std::fs::rename(&job.temp, job.target) {
            for j in &jobs {
                let _ = std::fs::remove_file(&j.temp);
            }
            return Err(EnrichError::update(
                job.url,
                format!("cannot replace {}: {e}", job.target.display()),
            ));
        }
    }
    Ok(report)
}

/// Download into the job's temp file and load it; the size and range count.
fn fetch_and_verify(agent: &ureq::Agent, job: &Job<'_>) -> Result<(u64, usize), String> {
    if let Some(dir) = job.target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let response = agent.get(job.url).call().map_err(|e| e.to_string())?;
    let mut body = response
        .into_body()
        .into_with_config()
        .limit(MAX_DOWNLOAD)
        .reader();
    let mut file = std::fs::File::create(&job.temp)
        .map_err(|e| format!("cannot write {}: {e}", job.temp.display()))?;
    let bytes = std::io::copy(&mut body, &mut file).map_err(|e| format!("download failed: {e}"))?;
    file.flush()
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", job.temp.display()))?;
    drop(file);
    if bytes == 0 {
        return Err("the download is empty".into());
    }
    let ranges = verify_file(&job.temp, job.role).map_err(|e| match e {
        EnrichError::Registry { problem, .. } => format!("not a valid registry file: {problem}"),
        other => other.to_string(),
    })?;
    Ok((bytes, ranges))
}
