//! tipsheet: a newsletter and content pipeline for a career-advice publisher.
#![forbid(unsafe_code)]
