//! Files tipsheet creates are private: after `preview`, a `send` to the
//! outbox and a sign-up whose confirmation goes to the outbox, every file
//! under `state/` is 0600 and every folder 0700; files that exist keep their
//! mode.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::Site;
use crate::server::{Serve, post_form, wait_for};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Every file and folder under `root` (itself included), with its mode.
fn modes(root: &Path) -> Vec<(String, bool, u32)> {
    let mut out = vec![(root.display().to_string(), true, mode(root))];
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let dir = e.file_type().unwrap().is_dir();
            out.push((p.display().to_string(), dir, mode(&p)));
            if dir {
                stack.push(p);
            }
        }
    }
    out
}

#[test]
fn state_outbox_previews_and_confirmations_are_owner_only() {
    let site = Site::new();
    let r = site.run(&["preview"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    {
        let serve = Serve::start(&site);
        let r = post_form(&serve.url("/subscribe"), &[("email", "nia@example.com")]);
        assert_eq!(r.status, 200, "{r:?}");
        wait_for("the confirmation in the outbox", || {
            (!site.emls("state/outbox/confirmations").is_empty()).then_some(())
        });
    }

    let found = modes(&site.path("state"));
    let names: Vec<&str> = found.iter().map(|(p, _, _)| p.as_str()).collect();
    for part in [
        "tipsheet.sqlite3",
        "tipsheet.lock",
        "preview/issue-1.eml",
        "outbox/2026-12-01",
        "outbox/confirmations",
    ] {
        assert!(names.iter().any(|n| n.contains(part)), "{part}: {names:?}");
    }
    assert!(
        names.iter().filter(|n| n.ends_with(".eml")).count() >= 6,
        "{names:?}"
    );
    for (path, dir, mode) in &found {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{path} is {mode:o}");
    }
}

#[test]
fn an_opened_up_state_folder_stays_open() {
    let site = Site::new();
    std::fs::create_dir(site.path("state")).unwrap();
    std::fs::set_permissions(site.path("state"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let r = site.run(&["send"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(mode(&site.path("state")), 0o750);
    assert_eq!(mode(&site.path("state/tipsheet.sqlite3")), 0o600);
    assert_eq!(mode(&site.path("state/outbox")), 0o700);
}
