//! Compresses the city catalog for embedding: the binary carries `cities.tsv.gz`.

use std::{env, fs, io::Write, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let source = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("data/cities.tsv");
    println!("cargo:rerun-if-changed={}", source.display());
    let tsv = fs::read(&source)?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&tsv)?;
    let out = PathBuf::from(env::var("OUT_DIR")?).join("cities.tsv.gz");
    fs::write(out, encoder.finish()?)?;
    Ok(())
}
