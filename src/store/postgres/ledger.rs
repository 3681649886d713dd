//! The ledger on PostgreSQL: issues, their frozen selection and rendered body,
//! recorded outcomes (`commit`), counts and finishing an issue. Must not claim
//! or lease recipients (that is `claim.rs`) nor touch the list.

use super::*;

impl PgStore {
    // -- The ledger ---------------------------------------------------------

    /// All issues, oldest first.
    pub async fn issues(&self) -> Result<Vec<IssueRecord>, StoreError> {
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues ORDER BY slot");
        let sql = &sql;
        self.with_retry(|c| async move {
            let rows = c.query(sql.as_str(), &[]).await.map_err(|e| self.err(e))?;
            Ok(rows.iter().map(issue_row).collect())
        })
        .await
    }

    /// Every recorded issue's selection, for rotation.
    pub async fn history(&self) -> Result<Vec<PastIssue>, StoreError> {
        Ok(self
            .issues()
            .await?
            .into_iter()
            .map(|i| PastIssue {
                number: i.number,
                selection: i.selection,
            })
            .collect())
    }

    /// One issue by slot date.
    pub async fn issue(&self, date: NaiveDate) -> Result<Option<IssueRecord>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE slot = $1");
        let sql = &sql;
        self.with_retry(|c| async move {
            let row = c
                .query_opt(sql.as_str(), &[&slot])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.as_ref().map(issue_row))
        })
        .await
    }

    /// One issue by number.
    pub async fn issue_by_number(&self, number: u32) -> Result<Option<IssueRecord>, StoreError> {
        let sql =
            format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE number = $1 ORDER BY slot LIMIT 1");
        let n = number as i32;
        let sql = &sql;
        self.with_retry(|c| async move {
            let row = c
                .query_opt(sql.as_str(), &[&n])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.as_ref().map(issue_row))
        })
        .await
    }

    /// The rendered issue frozen with `slot`, if any.
    pub async fn rendered(&self, date: NaiveDate) -> Result<Option<Vec<u8>>, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let row = c
                .query_opt("SELECT rendered FROM issues WHERE slot = $1", &[&slot])
                .await
                .map_err(|e| self.err(e))?;
            Ok(row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
        })
        .await
    }

    /// Records an issue's selection (and rendered issue); no-op if the slot has one.
    pub async fn assemble(
        &self,
        date: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            insert_issue(&c, slot, number, selection, rendered)
                .await
                .map_err(|e| self.err(e))?;
            Ok(())
        })
        .await
    }

    /// Freezes the given recipient set and marks the issue `sending`, in one
    /// transaction; does nothing if the issue already left `assembled`.
    pub async fn freeze(
        &self,
        date: NaiveDate,
        recipients: &[(String, String, String)],
    ) -> Result<u64, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|mut c| async move {
            let e = |e| pg_error(&self.url, e);
            let tx = c.transaction().await.map_err(e)?;
            if !lock_assembled(&tx, slot).await.map_err(e)? {
                return Ok(0);
            }
            let at = now();
            let stmt = tx
                .prepare(
                    "INSERT INTO recipients (slot, email, address, name, status, updated_at)
                     VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING",
                )
                .await
                .map_err(e)?;
            let mut added = 0;
            for (key, address, name) in recipients {
                added += tx
                    .execute(&stmt, &[&slot, key, address, name, &at])
                    .await
                    .map_err(e)?;
            }
            mark_sending(&tx, slot).await.map_err(e)?;
            tx.commit().await.map_err(e)?;
            Ok(added)
        })
        .await
    }

    /// The first host to reach a slot freezes it: in one transaction the
    /// selection, the rendered issue, and every subscriber not suppressed.
    /// Every host, first or not, gets back what was frozen; `added` is `None`
    /// when another host (or an earlier run) froze it.
    pub async fn freeze_issue(
        &self,
        date: NaiveDate,
        number: u32,
        selection: &Selection,
        rendered: Option<&[u8]>,
    ) -> Result<FrozenIssue, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        let added = self
            .with_retry(|mut c| async move {
                let e = |e| pg_error(&self.url, e);
                let tx = c.transaction().await.map_err(e)?;
                insert_issue(&tx, slot, number, selection, rendered)
                    .await
                    .map_err(e)?;
                if !lock_assembled(&tx, slot).await.map_err(e)? {
                    return Ok(None);
                }
                let added = tx
                    .execute(
                        "INSERT INTO recipients (slot, email, address, name, status, updated_at)
                         SELECT $1, s.email, s.address, s.name, 'pending', $2 FROM subscribers s
                         WHERE NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.email = s.email)
                         ON CONFLICT DO NOTHING",
                        &[&slot, &now()],
                    )
                    .await
                    .map_err(e)?;
                mark_sending(&tx, slot).await.map_err(e)?;
                tx.commit().await.map_err(e)?;
                Ok(Some(added))
            })
            .await?;
        let record = self
            .issue(date)
            .await?
            .ok_or_else(|| StoreError::Database {
                store: self.url.to_string(),
                detail: format!("issue `{slot}` vanished right after it was frozen"),
            })?;
        let rendered = self.rendered(date).await?;
        Ok(FrozenIssue {
            record,
            rendered,
            added,
        })
    }

    /// Which of `keys` are suppressed now.
    pub async fn suppressed_among(
        &self,
        keys: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        if keys.is_empty() {
            return Ok(Default::default());
        }
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT email FROM suppressions WHERE email = ANY($1)",
                    &[&keys],
                )
                .await
                .map_err(|e| self.err(e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    /// Marks `in_flight` keys in flight (under this host's lease) and records
    /// `outcomes`, in one transaction. A recorded outcome ends the claim.
    pub async fn commit(
        &self,
        date: NaiveDate,
        in_flight: &[&str],
        outcomes: &[Outcome],
    ) -> Result<(), StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        if in_flight.is_empty() && outcomes.is_empty() {
            return Ok(());
        }
        let lease = self.lease_interval();
        let keys: Vec<&str> = in_flight.to_vec();
        let keys = &keys;
        self.with_retry(|mut c| async move {
            let e = |e| pg_error(&self.url, e);
            let at = now();
            let tx = c.transaction().await.map_err(e)?;
            // Like the SQLite engine's `synchronous = NORMAL`: a commit that
            // returned survives this process dying; only a crash of the
            // database server can lose the last few hundred milliseconds,
            // and what it loses comes back as pending or uncertain (resent,
            // never lost). Imports, suppressions and sign-ups stay durable.
            tx.batch_execute("SET LOCAL synchronous_commit TO off")
                .await
                .map_err(e)?;
            if !keys.is_empty() {
                tx.execute(
                    "UPDATE recipients SET status = 'in_flight', updated_at = $3,
                        claimed_by = $4, lease_until = now() + make_interval(secs => $5)
                     WHERE slot = $1 AND email = ANY($2)",
                    &[&slot, keys, &at, &self.host, &lease],
                )
                .await
                .map_err(e)?;
            }
            if !outcomes.is_empty() {
                // One statement for the whole group: a round trip per row
                // would cost more than the sending.
                let keys: Vec<&str> = outcomes.iter().map(|o| o.key.as_str()).collect();
                let statuses: Vec<&str> = outcomes.iter().map(|o| o.status.as_str()).collect();
                let attempts: Vec<i32> = outcomes.iter().map(|o| o.attempts as i32).collect();
                let codes: Vec<Option<i32>> =
                    outcomes.iter().map(|o| o.code.map(i32::from)).collect();
                let replies: Vec<Option<&str>> =
                    outcomes.iter().map(|o| o.reply.as_deref()).collect();
                let ids: Vec<Option<&str>> =
                    outcomes.iter().map(|o| o.message_id.as_deref()).collect();
                tx.execute(
                    "UPDATE recipients r SET status = o.status, attempts = r.attempts + o.attempts,
                        last_code = COALESCE(o.code, r.last_code),
                        last_reply = COALESCE(o.reply, r.last_reply),
                        message_id = COALESCE(o.mid, r.message_id), updated_at = $8,
                        claimed_by = NULL, lease_until = NULL
                     FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[])
                        AS o(email, status, attempts, code, reply, mid)
                     WHERE r.slot = $1 AND r.email = o.email",
                    &[&slot, &keys, &statuses, &attempts, &codes, &replies, &ids, &at],
                )
                .await
                .map_err(e)?;
            }
            tx.commit().await.map_err(e)
        })
        .await
    }

    /// Counts by status for one issue.
    pub async fn counts(&self, date: NaiveDate) -> Result<Counts, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        self.with_retry(|c| async move {
            let rows = c
                .query(
                    "SELECT status, COUNT(*) FROM recipients WHERE slot = $1 GROUP BY status",
                    &[&slot],
                )
                .await
                .map_err(|e| self.err(e))?;
            let mut by_status: Vec<(RecipientStatus, u64)> = rows
                .iter()
                .filter_map(|r| {
                    let s: String = r.get(0);
                    let n: i64 = r.get(1);
                    s.parse().ok().map(|s| (s, n as u64))
                })
                .collect();
            by_status.sort();
            Ok(Counts { by_status })
        })
        .await
    }

    /// Marks the issue `sent` when nobody is left open; returns its status.
    pub async fn finish(&self, date: NaiveDate) -> Result<IssueStatus, StoreError> {
        let slot = slot_key(date);
        let slot = slot.as_str();
        if self.counts(date).await?.open() == 0 {
            self.with_retry(|c| async move {
                c.execute(
                    "UPDATE issues SET status = 'sent', finished_at = COALESCE(finished_at, $2)
                     WHERE slot = $1 AND status = 'sending'",
                    &[&slot, &now()],
                )
                .await
                .map_err(|e| self.err(e))
            })
            .await?;
        }
        Ok(self
            .issue(date)
            .await?
            .map_or(IssueStatus::Assembled, |i| i.status))
    }
}
