//! The Debian package (`cargo deb`, `[package.metadata.deb]` in Cargo.toml) carries every model
//! the runtime loads: each `models/*.onnx` with its `.json` metadata and `.md` card, and none of
//! the golden test vectors.

use std::collections::BTreeSet;
use std::path::Path;

/// The source paths of the package's assets, as written in Cargo.toml.
fn deb_sources() -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    value["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("[package.metadata.deb] assets")
        .iter()
        .map(|asset| asset[0].as_str().unwrap().to_string())
        .collect()
}

/// Whether `path` is named by `pattern` (a literal path or a `dir/*.ext` glob).
fn covered(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        Some((prefix, suffix)) => {
            path.starts_with(prefix)
                && path.ends_with(suffix)
                && !path[prefix.len()..path.len() - suffix.len()].contains('/')
        }
        None => pattern == path,
    }
}

#[test]
fn the_package_carries_each_model_with_its_metadata_and_card_and_no_test_vectors() {
    let sources = deb_sources();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut stems = BTreeSet::new();
    for entry in std::fs::read_dir(&models).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".onnx") {
            stems.insert(stem.to_string());
        }
    }
    assert!(
        stems.contains("keyword") && stems.contains("phonemes"),
        "{stems:?}"
    );
    for stem in &stems {
        for ext in ["onnx", "json", "md"] {
            let path = format!("models/{stem}.{ext}");
            assert!(
                sources.iter().any(|s| covered(s, &path)),
                "{path} is not among the .deb assets in Cargo.toml"
            );
        }
        let golden = format!("models/{stem}.golden.json");
        assert!(
            !sources.iter().any(|s| covered(s, &golden)),
            "{golden} (test vectors) is among the .deb assets"
        );
    }
    for source in &sources {
        if !source.contains('*') {
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(source).exists()
                    || source.starts_with("target/"),
                "the .deb asset {source} does not exist"
            );
        }
    }
}

#[test]
fn asset_patterns_match_as_cargo_deb_globs_do() {
    assert!(covered("models/*.onnx", "models/keyword.onnx"));
    assert!(!covered("models/*.onnx", "models/keyword.json"));
    assert!(!covered("models/*.json", "models/sub/keyword.json"));
    assert!(covered("models/vad.json", "models/vad.json"));
    assert!(!covered("models/vad.json", "models/vad.md"));
}
