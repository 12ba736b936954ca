//! Every UI text key used in the code exists in the catalogue, in both languages.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("src dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&p).expect("read"));
        }
    }
}

#[test]
fn every_tr_key_is_in_the_catalogue() {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let known: Vec<&str> = pult::i18n::CATALOGUE.iter().map(|(k, _, _)| *k).collect();
    let mut missing = Vec::new();
    for text in &files {
        for part in text.split(".tr(\"").skip(1) {
            let key = part.split('"').next().unwrap_or("");
            if !known.contains(&key) {
                missing.push(key.to_string());
            }
        }
    }
    for v in pult::model::View::SMART {
        if !known.contains(&v.key()) {
            missing.push(v.key().to_string());
        }
    }
    assert!(missing.is_empty(), "missing catalogue keys: {missing:?}");
}
