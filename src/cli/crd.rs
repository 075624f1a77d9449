//! `crd`: prints the CustomResourceDefinitions, or writes them into `crds/`.

use crate::api;
use clap::Args;
use std::path::{Path, PathBuf};

/// Print the operator's CustomResourceDefinitions as one multi-document YAML stream.
///
/// Example: `videosdk-token-operator crd | kubectl apply --server-side -f -`
///
/// With `--output-dir crds` it writes one file per CRD instead, which is how the repository's
/// `crds/` directory is regenerated after a change to `src/api/`.
#[derive(Args, Debug)]
pub struct CrdArgs {
    /// Write one `<plural>.yaml` file per CRD into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// Writes every CRD into `dir`, one file each, creating the directory if needed.
pub fn write_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (file, crd) in api::crds() {
        std::fs::write(dir.join(file), api::crd_yaml(&crd))?;
    }
    Ok(())
}

/// Runs the command.
pub fn run(args: &CrdArgs) -> Result<(), String> {
    match &args.output_dir {
        Some(dir) => {
            write_dir(dir).map_err(|e| format!("cannot write CRDs into {}: {e}", dir.display()))
        }
        None => {
            print!("{}", api::crds_yaml());
            Ok(())
        }
    }
}
