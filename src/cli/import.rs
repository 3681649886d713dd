//! `tipsheet import`: the arguments, the default output folder from the config,
//! the summary printed per article, and the exit code.
//!
//! Owns the command line only; reading articles and writing comparisons is
//! [`crate::import`], which prints nothing and knows nothing of clap.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::output::{errln, outln};
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::error::{Ending, Error};
use crate::import::{self, Format, ImportError, Imported, Written};

/// `import` options.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Articles to import, Markdown, HTML or plain text; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write into this folder (default: `comparisons/` under the config's `content.dir`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite a comparison file that already exists.
    #[arg(long)]
    pub force: bool,
    /// The article's public address, recorded as `url` (one file only).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Read the input as this format instead of detecting it.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Markdown, optionally with `+++` TOML or `---` YAML-style front matter.
    Markdown,
    /// An HTML page or fragment.
    Html,
    /// Plain text, such as a web page copied from the browser (select all, copy).
    Text,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Html => Format::Html,
            FormatArg::Text => Format::Text,
        }
    }
}

/// Runs `tipsheet import`: 0 when every file was imported (warnings allowed),
/// 1 when any failed, a usage error (2) for bad arguments or a broken config.
pub(crate) fn run(args: &ImportArgs, config_path: &Path) -> Result<Ending, Error> {
    let usage = Error::Usage;
    if let Some(url) = &args.url {
        if args.files.len() > 1 {
            return Err(usage(format!(
                "`--url` names one article, but {} files were given; import them one at a time",
                args.files.len()
            )));
        }
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && !url.chars().any(char::is_whitespace);
        if !ok {
            return Err(usage(format!(
                "`--url {url}` is not an http(s) address like `https://www.example.com/career-advice/a-vs-b`"
            )));
        }
    }
    if args.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(usage(
            "standard input (`-`) can be read only once; name it once".into(),
        ));
    }
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => default_out(config_path)?,
    };
    let (mut imported, mut failed) = (0usize, 0usize);
    for file in &args.files {
        let shown = if file.as_os_str() == "-" {
            PathBuf::from("<stdin>")
        } else {
            file.clone()
        };
        match import_file(file, &out, args) {
            Ok(Written {
                path,
                imported: result,
            }) => {
                imported += 1;
                print_summary(&shown, &path, &result);
                for mut d in result.warnings {
                    d.path.clone_from(&path);
                    errln!("{d}");
                }
            }
            Err(e) => {
                failed += 1;
                errln!("{}", Diagnostic::error(&shown, 0, e.to_string()));
            }
        }
    }
    if args.files.len() > 1 {
        outln!("import: {imported} imported, {failed} failed");
    }
    Ok(if failed > 0 {
        Ending::Failures
    } else {
        Ending::Done
    })
}

/// `<content.dir>/comparisons` from the config, or `content/comparisons` when
/// there is no config file. A config that exists but does not load is an error.
fn default_out(config_path: &Path) -> Result<PathBuf, Error> {
    match std::fs::metadata(config_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = PathBuf::from("content").join("comparisons");
            errln!(
                "note: no config file `{}`; writing to `{}` under the current folder (pass `--out DIR` or `--config PATH` to choose)",
                config_path.display(),
                dir.display()
            );
            Ok(dir)
        }
        _ => {
            let config = Config::load(config_path)?;
            Ok(config.content.dir.join("comparisons"))
        }
    }
}

/// Reads one input (`-` is standard input) and writes its comparison under `out`.
fn import_file(file: &Path, out: &Path, args: &ImportArgs) -> Result<Written, ImportError> {
    let stdin = file.as_os_str() == "-";
    let bytes = if stdin {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(ImportError::Read)?;
        buf
    } else {
        std::fs::read(file).map_err(ImportError::Read)?
    };
    import::write_comparison(
        (!stdin).then_some(file),
        &bytes,
        out,
        args.format.map(Format::from),
        args.url.as_deref(),
        args.force,
    )
}

fn print_summary(input: &Path, path: &Path, r: &Imported) {
    let rep = &r.report;
    outln!(
        "imported `{}` ({}) → `{}`",
        input.display(),
        r.format.name(),
        path.display()
    );
    let names: Vec<&str> = r.meta.roles.iter().map(|x| x.name.as_str()).collect();
    outln!("  roles:     {}", names.join(", "));
    outln!("  sections:  {}", rep.sections.join(", "));
    if !rep.missing.is_empty() {
        outln!("  missing:   {}", rep.missing.join(", "));
    }
    if !rep.other_sections.is_empty() {
        outln!("  other:     {}", rep.other_sections.join(", "));
    }
    outln!("  salaries:");
    for (role, found) in r.meta.roles.iter().zip(&rep.salaries) {
        match found {
            Some(f) => outln!(
                "    {}: {}{} (from {}: \"{}\")",
                role.name,
                f.salary,
                if f.per_stated {
                    ""
                } else {
                    ", no period stated: taken as a year"
                },
                f.source,
                f.phrase
            ),
            None => outln!("    {}: none found; written without a salary", role.name),
        }
    }
    match (&r.meta.published, rep.published_from) {
        (Some(p), Some(from)) => outln!("  published: {p} (from {from})"),
        _ => outln!("  published: not stated; omitted"),
    }
    outln!(
        "  url:       {}",
        r.meta
            .url
            .as_deref()
            .unwrap_or("none (pass `--url URL` to record it)")
    );
    if rep.dropped.is_empty() {
        outln!("  dropped:   nothing");
    } else {
        outln!("  dropped:");
        for (what, n) in counted(&rep.dropped) {
            if n > 1 {
                outln!("    - {what} (×{n})");
            } else {
                outln!("    - {what}");
            }
        }
    }
    for note in &rep.notes {
        outln!("  note: {note}");
    }
}

/// Equal entries folded together, first-seen order.
fn counted(items: &[String]) -> Vec<(&str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for i in items {
        match out.iter_mut().find(|(s, _)| *s == i.as_str()) {
            Some((_, n)) => *n += 1,
            None => out.push((i, 1)),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The document both readers produce.
