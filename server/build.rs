//! Compresses the city catalog and the cities' climate normals for embedding: the binary
//! carries `cities.tsv.gz` and `climate.tsv.gz`.

use std::{env, fs, io::Write, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("data");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    for name in ["cities.tsv", "climate.tsv"] {
        let source = data.join(name);
        println!("cargo:rerun-if-changed={}", source.display());
        let tsv = fs::read(&source)?;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&tsv)?;
        fs::write(out.join(format!("{name}.gz")), encoder.finish()?)?;
    }
    Ok(())
}
