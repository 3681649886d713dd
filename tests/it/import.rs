//! `tipsheet import`: article fixtures end to end (snapshotted), refusals, standard
//! input, the default folder, and properties (no panics, round trips).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use proptest::prelude::*;
use tipsheet::content::{self, Per};
use tipsheet::import::{self, EXCERPT_RULE, Format};

use crate::common::{Run, Site, repo, to_run};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/import").join(name)).unwrap()
}

/// A bare folder (no config) holding copies of fixtures.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new(fixtures: &[&str]) -> Self {
        let d = Dir(tempfile::tempdir().unwrap());
        for f in fixtures {
            std::fs::write(d.path(f), fixture(f)).unwrap();
        }
        d
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tipsheet"));
        c.current_dir(self.0.path())
            .args(args)
            .env_remove("TIPSHEET_CONFIG");
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        to_run(self.command(args).output().unwrap())
    }

    fn run_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        to_run(child.wait_with_output().unwrap())
    }
}

fn loads_cleanly(path: &Path, text: &str) {
    let mut diags = Vec::new();
    let c = content::parse_comparison(path, text, EXCERPT_RULE, &mut diags);
    assert!(c.is_some(), "{diags:?}");
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
}

#[test]
fn fixtures_import_to_the_snapshotted_comparisons() {
    let cases = [
        (
            "sous-chef-vs-line-cook.html",
            "sous-chef-vs-line-cook.md",
            "import_html_sous_chef_vs_line_cook",
        ),
        (
            "dental-hygienist-vs-dental-assistant.md",
            "dental-hygienist-vs-dental-assistant.md",
            "import_markdown_dental_hygienist_vs_dental_assistant",
        ),
        (
            "solicitor-versus-barrister.html",
            "solicitor-vs-barrister.md",
            "import_html_solicitor_versus_barrister",
        ),
        (
            "translator-or-interpreter.md",
            "translator-vs-interpreter.md",
            "import_markdown_translator_or_interpreter",
        ),
        (
            "electrician-vs-plumber.html",
            "electrician-vs-plumber.md",
            "import_html_fragment_electrician_vs_plumber",
        ),
    ];
    for (input, output, snapshot) in cases {
        let dir = Dir::new(&[input]);
        let r = dir.run(&["import", "--out", "out", input]);
        assert_eq!(r.code, 0, "{input}: {r:?}");
        let written = dir.read(&format!("out/{output}"));
        loads_cleanly(Path::new(output), &written);
        insta::assert_snapshot!(
            snapshot,
            format!(
                "$ tipsheet import --out out {input}\nexit {}\n--- stdout\n{}--- stderr\n{}--- out/{output}\n{written}",
                r.code, r.stdout, r.stderr
            )
        );
    }
}

#[test]
fn writes_into_the_configured_content_folder_and_check_accepts_it() {
    let site = Site::new();
    site.write(
        "dental.md",
        &fixture("dental-hygienist-vs-dental-assistant.md"),
    );
    let r = site.run(&[
        "import",
        "--url",
        "https://www.example.com/career-advice/dental-hygienist-vs-dental-assistant",
        "dental.md",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with(
            "imported `dental.md` (markdown) → `content/comparisons/dental-hygienist-vs-dental-assistant.md`\n"
        ),
        "{r:?}"
    );
    let text = site.read("content/comparisons/dental-hygienist-vs-dental-assistant.md");
    assert!(text.contains(
        "url = \"https://www.example.com/career-advice/dental-hygienist-vs-dental-assistant\"\n"
    ));
    assert!(!r.stderr.contains("no `url`"), "{r:?}");
    let check = site.run(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stdout.contains("(10 comparisons, 7 tips)"),
        "{check:?}"
    );
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = Dir::new(&["sous-chef-vs-line-cook.html"]);
    let args = ["import", "--out", "out", "sous-chef-vs-line-cook.html"];
    assert_eq!(dir.run(&args).code, 0);
    std::fs::write(
        dir.path("out/sous-chef-vs-line-cook.md"),
        "edited by hand\n",
    )
    .unwrap();
    let r = dir.run(&args);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stderr,
        "sous-chef-vs-line-cook.html: error: `out/sous-chef-vs-line-cook.md` already exists; pass `--force` to overwrite it\n"
    );
    assert_eq!(r.stdout, "");
    assert_eq!(
        dir.read("out/sous-chef-vs-line-cook.md"),
        "edited by hand\n"
    );
    let r = dir.run(&[
        "import",
        "--out",
        "out",
        "--force",
        "sous-chef-vs-line-cook.html",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        dir.read("out/sous-chef-vs-line-cook.md")
            .starts_with("+++\ntitle = \"Sous Chef vs. Line Cook\"\n")
    );
    assert!(!dir.path("out/sous-chef-vs-line-cook.md.tmp").exists());
}

#[test]
fn reads_standard_input() {
    let dir = Dir::new(&["electrician-vs-plumber.html"]);
    let r = dir.run_stdin(
        &["import", "--out", "piped", "-"],
        &fixture("electrician-vs-plumber.html"),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .starts_with("imported `<stdin>` (html) → `piped/electrician-vs-plumber.md`\n"),
        "{r:?}"
    );
    let r = dir.run(&["import", "--out", "named", "electrician-vs-plumber.html"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        dir.read("piped/electrician-vs-plumber.md"),
        dir.read("named/electrician-vs-plumber.md")
    );
    // Markdown on stdin is recognized by its content.
    let r = dir.run_stdin(
        &["import", "--out", "md", "-"],
        &fixture("translator-or-interpreter.md"),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("(markdown)"), "{r:?}");
    let r = dir.run(&["import", "--out", "twice", "-", "-"]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn a_title_without_two_roles_is_an_error_and_nothing_is_written() {
    let dir = Dir::new(&["how-to-negotiate-your-first-salary.html"]);
    let r = dir.run(&[
        "import",
        "--out",
        "out",
        "how-to-negotiate-your-first-salary.html",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stderr,
        "how-to-negotiate-your-first-salary.html: error: title `How to Negotiate Your First Salary` does not name two roles; a comparison's title reads like `Associate Producer vs. Assistant Producer` (`vs`, `versus` and `or` work too); nothing was written\n"
    );
    assert_eq!(r.stdout, "");
    assert!(!dir.path("out").exists());
}

#[test]
fn an_article_without_duties_is_an_error_and_nothing_is_written() {
    let dir = Dir::new(&["barista-vs-cafe-manager.md"]);
    let r = dir.run(&["import", "--out", "out", "barista-vs-cafe-manager.md"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stderr,
        "barista-vs-cafe-manager.md: error: no job duties section (section headings found: `What is a Barista?`, `What is a Café Manager?`, `Salary`); the newsletter's excerpt comes from it, so add a heading like `Job Duties` above the duties and import again; nothing was written\n"
    );
    assert!(!dir.path("out").exists());
}

#[test]
fn one_failed_file_fails_the_run_but_the_others_are_written() {
    let dir = Dir::new(&[
        "barista-vs-cafe-manager.md",
        "solicitor-versus-barrister.html",
    ]);
    let r = dir.run(&[
        "import",
        "--out",
        "out",
        "barista-vs-cafe-manager.md",
        "solicitor-versus-barrister.html",
        "missing.md",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(dir.path("out/solicitor-vs-barrister.md").exists());
    assert!(
        r.stdout.ends_with("import: 1 imported, 2 failed\n"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("missing.md: error: cannot read the article: "),
        "{r:?}"
    );
}

#[test]
fn url_is_recorded_only_when_given_and_must_be_one_web_address() {
    let dir = Dir::new(&[
        "electrician-vs-plumber.html",
        "solicitor-versus-barrister.html",
    ]);
    let r = dir.run(&["import", "--out", "out", "electrician-vs-plumber.html"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!dir.read("out/electrician-vs-plumber.md").contains("url ="));
    let r = dir.run(&[
        "import",
        "--out",
        "out2",
        "--url",
        "https://trades.example.com/guides/electrician-vs-plumber",
        "electrician-vs-plumber.html",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        dir.read("out2/electrician-vs-plumber.md")
            .contains("\nurl = \"https://trades.example.com/guides/electrician-vs-plumber\"\n")
    );
    let r = dir.run(&[
        "import",
        "--out",
        "out3",
        "--url",
        "https://a.example/x",
        "electrician-vs-plumber.html",
        "solicitor-versus-barrister.html",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stderr,
        "error: `--url` names one article, but 2 files were given; import them one at a time\n"
    );
    let r = dir.run(&[
        "import",
        "--url",
        "trades.example.com",
        "electrician-vs-plumber.html",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(!dir.path("out3").exists());
}

#[test]
fn without_a_config_file_it_writes_to_content_comparisons_and_says_so() {
    let dir = Dir::new(&["translator-or-interpreter.md"]);
    let r = dir.run(&["import", "translator-or-interpreter.md"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.starts_with(
        "note: no config file `config.toml`; writing to `content/comparisons` under the current folder (pass `--out DIR` or `--config PATH` to choose)\n"
    ), "{r:?}");
    assert!(
        dir.path("content/comparisons/translator-vs-interpreter.md")
            .exists()
    );
}

#[test]
fn a_broken_config_is_a_usage_error() {
    let site = Site::new();
    site.write("a.md", &fixture("translator-or-interpreter.md"));
    site.config("[newsletter]", "[newsletter]\nbogus = 1");
    let r = site.run(&["import", "a.md"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.starts_with("error: "), "{r:?}");
    assert!(
        !site
            .path("content/comparisons/translator-vs-interpreter.md")
            .exists()
    );
}

#[test]
fn shipped_comparisons_import_to_the_same_front_matter() {
    let dir = repo().join("content/comparisons");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut diags = Vec::new();
        let original = content::parse_comparison(&path, &text, EXCERPT_RULE, &mut diags)
            .unwrap()
            .meta;
        let got = import::import_text(Some(&path), &text, None, original.url.as_deref())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got.meta, original, "{}", path.display());
        assert!(got.report.dropped.is_empty(), "{:?}", got.report.dropped);
        loads_cleanly(&path, &got.text);
        n += 1;
    }
    assert_eq!(n, 9);
}

// ---------------------------------------------------------------------------
// Properties.

const ROLES: &[&str] = &[
    "Sous Chef",
    "Line Cook",
    "Producer",
    "Associate Producer",
    "Data Analyst",
    "Nurse",
    "Registered Nurse",
    "UX Designer",
    "Electrician",
    "Plumber",
    "Office Administrator",
    "Barista",
];

const WORDS: &[&str] = &[
    "the",
    "team",
    "plans",
    "work",
    "each",
    "week",
    "with",
    "care",
    "clients",
    "projects",
    "quality",
    "tasks",
    "reports",
    "people",
    "kitchen",
    "office",
    "tools",
    "training",
    "goals",
    "deadlines",
    "customers",
    "budgets",
    "shifts",
    "notes",
    "meetings",
    "standards",
];

/// An article from an imaginary career site, saved in all three formats.
struct SiteArticle {
    /// `tests/fixtures/import/sites/<stem>.{md,html,txt}`.
    stem: &'static str,
    slug: &'static str,
    /// The site's chrome: none of it may reach the written file (case-sensitive).
    chrome: &'static [&'static str],
    sections: &'static [&'static str],
    /// Per role: (min, max, currency, per).
    salaries: [(u64, u64, &'static str, Per); 2],
    /// The article's last words: the last section keeps its prose, and no more.
    ends_with: &'static str,
}

const SITE_ARTICLES: &[SiteArticle] = &[
    SiteArticle {
        stem: "careerpath-associate-producer",
        slug: "associate-producer-vs-assistant-producer",
        chrome: &[
            "Skip to content",
            "Career Advice",
            "Search",
            "Close this search box",
            "Expand",
            "Related",
            "Supervising Producer",
            "Your page rank",
            "0 / 5",
            "reviews",
            "CareerPath",
            "two million",
            "inbox",
            "newsletter",
            "Email address",
            "Subscribe",
            "All rights reserved",
        ],
        sections: &[
            "What is an Associate Producer?",
            "What is an Assistant Producer?",
            "Job Duties",
            "Job Requirements",
            "Work Environment",
            "Skills",
            "Salary",
        ],
        salaries: [
            (55_000, 85_000, "USD", Per::Year),
            (40_000, 60_000, "USD", Per::Year),
        ],
        ends_with: "Assistant producers typically earn $40,000 to $60,000 per year.\n",
    },
    SiteArticle {
        stem: "jobladder-paralegal",
        slug: "paralegal-vs-legal-assistant",
        chrome: &[
            "JobLadder",
            "Menu",
            "Home ›",
            "Morgan Lee",
            "Career Coach",
            "Published",
            "In this article",
            "Advertisement",
            "Was this article helpful",
            "Share this article",
            "Facebook",
            "LinkedIn",
            "Yes",
            "Park Row",
            "©",
        ],
        sections: &[
            "What is a Paralegal?",
            "What is a Legal Assistant?",
            "Job Duties",
            "Job Requirements",
            "Skills",
            "Salary",
        ],
        salaries: [
            (24_000, 38_000, "GBP", Per::Year),
            (21_000, 30_000, "GBP", Per::Year),
        ],
        ends_with: "while legal assistants earn £21,000 to £30,000 annually.\n",
    },
    SiteArticle {
        stem: "worktrail-pharmacist",
        slug: "pharmacist-vs-pharmacy-technician",
        chrome: &[
            "cookies",
            "Accept all",
            "Worktrail",
            "Find a path",
            "Rate this",
            "★",
            "4.2/5",
            "votes",
            "Written by",
            "Dana Park",
            "Denver",
            "Join 40,000",
            "inbox",
            "Your email",
            "Submit",
            "Trending",
            "Nurse vs. Doctor",
            "Welder",
            "Follow us",
            "Facebook",
            "Instagram",
            "path that fits",
        ],
        sections: &[
            "What is a Pharmacist?",
            "What is a Pharmacy Technician?",
            "Job Duties",
            "Work Environment",
            "Salary",
        ],
        salaries: [
            (120_000, 150_000, "USD", Per::Year),
            (17, 23, "USD", Per::Hour),
        ],
        ends_with: "before committing to the doctorate a pharmacist needs.\n",
    },
];

#[test]
fn site_articles_in_every_format_leave_no_chrome_and_keep_sections_and_salaries() {
    for site in SITE_ARTICLES {
        let mut written_by_format = Vec::new();
        let sources: Vec<String> = ["md", "html", "txt"]
            .iter()
            .map(|ext| fixture(&format!("sites/{}.{ext}", site.stem)))
            .collect();
        for phrase in site.chrome {
            assert!(
                sources.iter().any(|s| s.contains(phrase)),
                "{}: no fixture has `{phrase}`",
                site.stem
            );
        }
        for (ext, format) in [("md", "markdown"), ("html", "html"), ("txt", "text")] {
            let input = format!("{}.{ext}", site.stem);
            let dir = Dir(tempfile::tempdir().unwrap());
            let source = fixture(&format!("sites/{input}"));
            std::fs::write(dir.path(&input), &source).unwrap();
            let r = dir.run(&["import", "--out", "out", &input]);
            assert_eq!(r.code, 0, "{input}: {r:?}");
            assert!(
                r.stdout.starts_with(&format!(
                    "imported `{input}` ({format}) → `out/{}.md`\n",
                    site.slug
                )),
                "{input}: {r:?}"
            );
            assert!(r.stdout.contains("  dropped:\n    - "), "{input}: {r:?}");
            let output = format!("{}.md", site.slug);
            let written = dir.read(&format!("out/{output}"));
            for phrase in site.chrome {
                assert!(
                    !written.contains(phrase),
                    "{input}: chrome `{phrase}` left in the written file:\n{written}"
                );
            }
            let mut diags = Vec::new();
            let c =
                content::parse_comparison(Path::new(&output), &written, EXCERPT_RULE, &mut diags)
                    .unwrap_or_else(|| panic!("{input}: {diags:?}"));
            let headings: Vec<&str> = c.sections.iter().map(|s| s.heading.as_str()).collect();
            assert_eq!(headings, site.sections, "{input}");
            for (role, want) in c.meta.roles.iter().zip(&site.salaries) {
                let s = role
                    .salary
                    .as_ref()
                    .unwrap_or_else(|| panic!("{input}: {role:?}"));
                assert_eq!(
                    (s.min, s.max, s.currency.as_str(), s.per),
                    *want,
                    "{input}: {}",
                    role.name
                );
            }
            assert!(written.ends_with(site.ends_with), "{input}:\n{written}");
            written_by_format.push(written);
        }
        assert_eq!(
            written_by_format[0], written_by_format[1],
            "{}: md vs html",
            site.stem
        );
        assert_eq!(
            written_by_format[0], written_by_format[2],
            "{}: md vs txt",
            site.stem
        );
    }
}

#[test]
fn a_pasted_page_imports_from_standard_input_as_text() {
    let dir = Dir(tempfile::tempdir().unwrap());
    let paste = fixture("sites/careerpath-associate-producer.txt");
    for args in [
        &["import", "--out", "out", "-"][..],
        &["import", "--out", "out", "--force", "--format", "text", "-"][..],
    ] {
        let r = dir.run_stdin(args, &paste);
        assert_eq!(r.code, 0, "{r:?}");
        insta::assert_snapshot!(
            "import_text_careerpath_associate_producer",
            format!(
                "$ tipsheet import --out out - < careerpath-associate-producer.txt\nexit {}\n--- stdout\n{}--- stderr\n{}--- out/associate-producer-vs-assistant-producer.md\n{}",
                r.code,
                r.stdout,
                r.stderr,
                dir.read("out/associate-producer-vs-assistant-producer.md")
            )
        );
    }
}

#[test]
fn a_plain_text_article_with_no_title_says_what_title_it_needs() {
    let dir = Dir(tempfile::tempdir().unwrap());
    std::fs::write(
        dir.path("notes.txt"),
        "Some notes\nNurses care for patients around the clock in hospitals.\n",
    )
    .unwrap();
    let r = dir.run(&["import", "--out", "out", "notes.txt"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.starts_with("notes.txt: error: no title found;"),
        "{r:?}"
    );
    assert!(!dir.path("out").exists());
}

fn sentence() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 4..14).prop_map(|w| {
        let mut s = w.join(" ");
        if let Some(first) = s.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        s.push('.');
        s
    })
}

fn paragraph() -> impl Strategy<Value = String> {
    prop::collection::vec(sentence(), 1..4).prop_map(|s| s.join(" "))
}

fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A salary phrase and what it means: (phrase, min, max, currency, per).
type Phrase = (String, u64, u64, &'static str, Per);

fn salary_phrase() -> impl Strategy<Value = Phrase> {
    (0usize..6, 10u64..150, 1u64..80).prop_map(|(form, base, spread)| {
        let (lo, hi) = (base * 1000, (base + spread) * 1000);
        match form {
            0 => (
                format!(
                    "anywhere from ${} to ${} annually",
                    thousands(lo),
                    thousands(hi)
                ),
                lo,
                hi,
                "USD",
                Per::Year,
            ),
            1 => (
                format!("between ${} and ${}", thousands(lo), thousands(hi)),
                lo,
                hi,
                "USD",
                Per::Year,
            ),
            2 => (
                format!("${}k–${}k", base, base + spread),
                lo,
                hi,
                "USD",
                Per::Year,
            ),
            3 => (
                format!("£{} to £{} a year", thousands(lo), thousands(hi)),
                lo,
                hi,
                "GBP",
                Per::Year,
            ),
            4 => (
                format!("${} to ${} per hour", base, base + spread),
                base,
                base + spread,
                "USD",
                Per::Hour,
            ),
            _ => (
                format!("€{}-€{} per year", thousands(lo), thousands(hi)),
                lo,
                hi,
                "EUR",
                Per::Year,
            ),
        }
    })
}

/// Markup and prose fragments that stress both readers.
const NOISE: &str = "(# |## |### |\n|\n\n|<h1>|</h1>|<h2>|</h2>|<p>|</p>|<nav>|</nav>|<li>|<ul>|</ul>|<pre>|</pre>|<blockquote>|<table><tr><td>|</td></tr></table>|<a href=\"https://x.example\">|</a>|<b>|</b>|<em>|</em>|<code>|</code>|\\+\\+\\+\n|---\n|    |title = \"|\"|vs\\. |versus | or |\\$[0-9]{1,6}|£[0-9]{1,3}|€[0-9]{1,3}|,[0-9]{3}|k| to | and |between |–|-|—|per hour|a year|é|ñ|\\*|_|\\[|\\]|\\(|\\)|`|>|[A-Za-z]{1,9}| |\\.|Job Duties|What is a |Salary|Related: |<!--|-->|\\||&amp;|&)*";

const CHROME: &[&str] = &[
    "Related: How to Write a Cover Letter",
    "Rate this article",
    "Sign up for our newsletter and get new comparisons every week.",
    "Share this: Facebook, LinkedIn",
    "We use cookies to improve your experience. Accept?",
];

#[derive(Debug, Clone)]
struct Article {
    a: &'static str,
    b: &'static str,
    title: String,
    html: bool,
    intro: String,
    what_is: [String; 2],
    duties: String,
    duties_heading: String,
    others: Vec<(&'static str, String)>,
    salary_section: bool,
    salaries: [Option<Phrase>; 2],
    chrome: Vec<(usize, &'static str)>,
}

fn article() -> impl Strategy<Value = Article> {
    let roles = prop::sample::subsequence(ROLES, 2).prop_shuffle();
    (
        roles,
        prop::sample::select(&[" vs. ", " vs ", " versus ", " or "][..]),
        prop::sample::select(&["", ": What Are the Differences?", " – Key Differences"][..]),
        any::<bool>(),
        (paragraph(), paragraph(), paragraph(), paragraph()),
        (
            0usize..3,
            prop::sample::subsequence(
                &[
                    "Job Requirements",
                    "Work Environment",
                    "Skills",
                    "Conclusion",
                ][..],
                0..=4,
            ),
            prop::collection::vec(paragraph(), 4),
        ),
        any::<bool>(),
        (
            prop::option::of(salary_phrase()),
            prop::option::of(salary_phrase()),
        ),
        prop::collection::vec((0usize..8, prop::sample::select(CHROME)), 0..4),
    )
        .prop_map(
            |(
                roles,
                sep,
                suffix,
                html,
                (intro, w0, w1, duties),
                (dh, others, texts),
                salary_section,
                (s0, s1),
                chrome,
            )| {
                let (a, b) = (roles[0], roles[1]);
                let duties_heading = match dh {
                    0 => "Job Duties".to_string(),
                    1 => format!("{a} vs. {b} Job Duties"),
                    _ => "Responsibilities".to_string(),
                };
                Article {
                    a,
                    b,
                    title: format!("{a}{sep}{b}{suffix}"),
                    html,
                    intro,
                    what_is: [w0, w1],
                    duties,
                    duties_heading,
                    others: others.into_iter().zip(texts).collect(),
                    salary_section,
                    salaries: [s0, s1],
                    chrome,
                }
            },
        )
}

impl Article {
    /// Sections as (heading, paragraphs), salary sentences placed.
    fn sections(&self) -> Vec<(String, Vec<String>)> {
        let roles = [self.a, self.b];
        let pay = |i: usize| {
            self.salaries[i]
                .as_ref()
                .map(|(p, ..)| format!("{}s typically earn {p}.", roles[i]))
        };
        let mut out = Vec::new();
        for (i, role) in roles.iter().enumerate() {
            let mut paras = vec![self.what_is[i].clone()];
            if !self.salary_section {
                paras.extend(pay(i));
            }
            out.push((format!("What is a {role}?"), paras));
        }
        out.push((self.duties_heading.clone(), vec![self.duties.clone()]));
        for (h, p) in &self.others {
            out.push((h.to_string(), vec![p.clone()]));
        }
        if self.salary_section {
            let paras: Vec<String> = (0..2).filter_map(pay).collect();
            out.push((
                "Salary".into(),
                if paras.is_empty() {
                    vec!["Pay varies.".into()]
                } else {
                    paras
                },
            ));
        }
        out
    }

    fn render(&self) -> String {
        let mut blocks: Vec<String> = Vec::new();
        let para = |t: &str| {
            if self.html {
                format!("<p>{t}</p>")
            } else {
                t.to_string()
            }
        };
        let heading = |l: u8, t: &str| {
            if self.html {
                format!("<h{l}>{t}</h{l}>")
            } else {
                format!("{} {t}", "#".repeat(l as usize))
            }
        };
        blocks.push(heading(1, &self.title));
        blocks.push(para(&self.intro));
        for (h, paras) in self.sections() {
            blocks.push(heading(2, &h));
            for p in paras {
                blocks.push(para(&p));
            }
        }
        for (at, text) in &self.chrome {
            let at = (*at).clamp(2, blocks.len());
            blocks.insert(at, para(text));
        }
        if self.html {
            format!(
                "<html><head><title>{}</title></head><body><nav><a href=\"/\">Home</a></nav><article>{}</article><footer>© 2026</footer></body></html>",
                self.title,
                blocks.join("\n")
            )
        } else {
            blocks.join("\n\n") + "\n"
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn import_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = import::import_bytes(None, &bytes, None, None);
        let _ = import::import_bytes(None, &bytes, Some(Format::Html), None);
        let _ = import::import_bytes(None, &bytes, Some(Format::Markdown), None);
        let _ = import::import_bytes(None, &bytes, Some(Format::Text), None);
    }

    #[test]
    fn import_never_panics_on_strings(text in any::<String>()) {
        let _ = import::import_text(None, &text, Some(Format::Html), None);
        let _ = import::import_text(None, &text, Some(Format::Markdown), None);
        let _ = import::import_text(None, &text, Some(Format::Text), None);
        let _ = import::parse_title(&text);
        let _ = import::find_salary_ranges(&text);
    }

    #[test]
    fn noisy_articles_never_panic_and_what_imports_loads_and_round_trips(
        article in article(),
        noise in prop::collection::vec((any::<prop::sample::Index>(), NOISE), 1..8),
    ) {
        let mut source = article.render();
        for (at, token) in &noise {
            let mut i = at.index(source.len() + 1);
            while !source.is_char_boundary(i) {
                i -= 1;
            }
            source.insert_str(i, token);
        }
        for format in [None, Some(Format::Html), Some(Format::Markdown), Some(Format::Text)] {
            if let Ok(first) = import::import_text(None, &source, format, None) {
                loads_cleanly(Path::new("x.md"), &first.text);
                let again = import::import_text(None, &first.text, None, None)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{}", first.text)))?;
                prop_assert_eq!(&again.text, &first.text, "{:?}\n{}", format, source);
            }
        }
    }

    #[test]
    fn imported_files_load_and_reimport_to_the_same_file(article in article()) {
        let source = article.render();
        let url = "https://www.example.com/career-advice/a-vs-b";
        let format = if article.html { Format::Html } else { Format::Markdown };
        let first = import::import_text(None, &source, Some(format), Some(url))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{source}")))?;
        prop_assert_eq!(&first.meta.roles[0].name, article.a);
        prop_assert_eq!(&first.meta.roles[1].name, article.b);
        for (i, want) in article.salaries.iter().enumerate() {
            let got = first.meta.roles[i].salary.as_ref().map(|s| (s.min, s.max, s.currency.clone(), s.per));
            let want = want.as_ref().map(|(_, min, max, cur, per)| (*min, *max, cur.to_string(), *per));
            prop_assert_eq!(got, want, "role {}\n{}", i, first.text);
        }
        prop_assert_eq!(first.report.dropped.len() >= article.chrome.len(), true, "{:?}", first.report.dropped);
        for (_, chrome) in &article.chrome {
            prop_assert!(!first.text.contains(chrome), "{}", first.text);
        }
        let mut diags = Vec::new();
        let loaded = content::parse_comparison(Path::new("x.md"), &first.text, EXCERPT_RULE, &mut diags);
        prop_assert!(loaded.is_some(), "{:?}", diags);
        prop_assert!(diags.iter().all(|d| !d.is_error()), "{:?}", diags);
        let again = import::import_text(None, &first.text, None, Some(url))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", first.text)))?;
        prop_assert_eq!(&again.text, &first.text);
        prop_assert_eq!(again.meta, first.meta);
    }
}
