//! Fuzz the compaction record (`c-<id>.covers`) as the store lists an hour:
//! no panic; the files listed exist and are `*.parquet`, the merged file is
//! always among them, and a record that parses hides exactly the files it
//! names; an error names the record.
#![no_main]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use flowhound_store::{FlowStore, LocalStore};
use libfuzzer_sys::fuzz_target;

/// The files of the one hour directory (arbitrary bytes: listing does not
/// open them).
const FILES: [&str; 3] = ["c-1.parquet", "e0.parquet", "e1.parquet"];
const RECORD: &str = "c-1.covers";

/// The data directory (`$TMPDIR/flowhound-fuzz-covers-<pid>/`, left behind)
/// and its hour directory.
fn dirs() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let data =
            std::env::temp_dir().join(format!("flowhound-fuzz-covers-{}", std::process::id()));
        let hour = data.join("flows/2026/11/26/14");
        std::fs::create_dir_all(&hour).expect("create the hour directory");
        for name in FILES {
            std::fs::write(hour.join(name), b"not parquet").expect("write a flow file");
        }
        (data, hour)
    })
}

fuzz_target!(|data: &[u8]| {
    let (dir, hour) = dirs();
    std::fs::write(hour.join(RECORD), data).expect("write the record");
    match LocalStore::new(dir).files(None) {
        Ok(files) => {
            for f in &files {
                assert!(f.exists(), "{f:?} does not exist");
                assert!(f.starts_with(hour), "{f:?} is not in {hour:?}");
                assert!(f.to_string_lossy().ends_with(".parquet"), "{f:?}");
            }
            let names: BTreeSet<String> = files
                .iter()
                .map(|f| {
                    f.file_name()
                        .expect("a file name")
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            assert_eq!(names.len(), files.len(), "listed twice: {files:?}");
            assert!(
                names.contains(FILES[0]),
                "the merged file is hidden: {files:?}"
            );
            if let Ok(text) = std::str::from_utf8(data) {
                let named: BTreeSet<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .collect();
                let expected: BTreeSet<String> = FILES
                    .iter()
                    .filter(|n| !named.contains(*n))
                    .map(|n| n.to_string())
                    .collect();
                assert_eq!(names, expected, "record {text:?}");
            }
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains(RECORD), "{text}");
        }
    }
});
