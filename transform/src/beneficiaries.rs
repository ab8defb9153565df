//! T_BTDX, the people: ID, name and region rules, and the merge of one person registered twice.

use crate::pipeline::*;
use crate::survivors::{Chosen, Offers};

impl Transformer<'_> {
    /// The rules of one T_BTDX row (DXID `dxid`): the platform row and its corrections, or the
    /// reject. Also returns the row's county.
    pub(crate) fn person_rules(
        &self,
        dxid: i64,
        row: &Row,
    ) -> (u32, Result<(Beneficiary, RowCorrections), Reject>) {
        let cols = Cols(LegacyTable::Beneficiaries);
        let region_raw = cols.get(row, "XZQHDM");
        let county = self.county_of(region_raw);
        let result = (|| {
            let mut notes = RowCorrections::default();
            let sfzh = cols.get(row, "SFZH");
            let id = rules::id_number(sfzh.as_deref(), self.as_of)
                .map_err(|r| reject(r, "SFZH", sfzh))?;
            notes.add("SFZH", sfzh, &id, |v| Some(v.clone()));
            let xm = cols.get(row, "XM");
            let name = rules::name(xm.as_deref()).map_err(|r| reject(r, "XM", xm))?;
            notes.add("XM", xm, &name, |v| Some(v.clone()));
            let region = rules::region(region_raw.as_deref(), &self.regions)
                .map_err(|r| reject(r, "XZQHDM", region_raw))?;
            notes.add("XZQHDM", region_raw, &region, |v| Some(v.code.clone()));
            let dxzt = cols.get(row, "DXZT");
            let status =
                rules::beneficiary_status(dxzt.as_deref()).map_err(|r| reject(r, "DXZT", dxzt))?;
            let hz = cols.get(row, "HZSFZH");
            let head = match hz.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(_) => match rules::id_number(hz.as_deref(), self.as_of) {
                    Ok(fixed) => {
                        notes.add("HZSFZH", hz, &fixed, |v| Some(v.clone()));
                        Some(fixed.value)
                    }
                    Err(_) => {
                        notes.0.push(Correction {
                            code: C::ValueCleared,
                            field: "HZSFZH",
                            before: hz.clone(),
                            after: None,
                        });
                        None
                    }
                },
            };
            let yhzh = cols.get(row, "YHZH");
            let account = rules::account(yhzh.as_deref());
            notes.add("YHZH", yhzh, &account, |v| v.clone());
            let swrq = cols.get(row, "SWRQ");
            let died = rules::optional_date(swrq.as_deref());
            notes.add("SWRQ", swrq, &died, |v| v.as_ref().and_then(date_text));
            let area = (region.value.code.len() > 6).then(|| region.value.code.clone());
            let person = Beneficiary {
                id: dxid,
                id_number: id.value,
                name: name.value,
                county_code: region.value.county,
                area_code: area,
                address: notes.text(row, &cols, "ZZ"),
                phone: notes.text(row, &cols, "LXDH"),
                account_no: account.value,
                bank_name: notes.text(row, &cols, "KHYH"),
                household_head_id_number: head,
                status,
                deceased_on: died.value,
            };
            Ok((person, notes))
        })();
        (county, result)
    }

    pub(crate) fn beneficiaries(&mut self) -> Result<(), TransformError> {
        let table = LegacyTable::Beneficiaries;
        let cols = Cols(table);
        // Pass 1: the survivor of each ID number: latest GXSJ, tie the highest DXID.
        let people = self.staged_rows(table);
        let mut offers = Offers::with_capacity(people);
        self.people.reserve(people);
        self.each_row(table, |t, row| {
            let Some(dxid) = cols
                .get(&row, "DXID")
                .as_deref()
                .and_then(|k| k.parse::<i64>().ok())
            else {
                return Ok(());
            };
            if let (county, Ok((person, _))) = t.person_rules(dxid, &row) {
                let stamp = cols.get(&row, "GXSJ").as_deref();
                offers.offer(&person.id_number, stamp, dxid, county);
            }
            Ok(())
        })?;
        let survivors = offers.settle();
        // Pass 2: write survivors, map every valid DXID, record merges and rejects.
        self.each_row(table, |t, row| {
            let key_raw = cols.get(&row, "DXID").clone().unwrap_or_default();
            let dxid = t.key(table, &key_raw)?;
            let (county, result) = t.person_rules(dxid, &row);
            let county_text = county_code(county);
            match result {
                Err(r) => {
                    t.people.insert(dxid, Person::Rejected { county });
                    t.out.reject(table, &key_raw, &county_text, &r, &row)
                }
                Ok((person, notes)) => {
                    let Chosen {
                        dxid: survivor,
                        county: survivor_county,
                    } = survivors
                        .get(&person.id_number)
                        .expect("pass 1 offered every row that passes the rules");
                    // A line that falls back to its beneficiary's county takes the county of
                    // the T_BTDX row its own DXID names, even when that row was merged into a
                    // person registered in another county (`mapping-rules.md`).
                    t.people.insert(
                        dxid,
                        Person::Loaded {
                            beneficiary_id: survivor,
                            county,
                        },
                    );
                    let group = county_code(survivor_county);
                    let map = BeneficiaryLegacyMap {
                        legacy_dxid: dxid,
                        beneficiary_id: survivor,
                    };
                    t.out.write(&group, &map)?;
                    if survivor == dxid {
                        t.out.write(&group, &person)?;
                        t.out.loaded(table, &county_text);
                        t.out.corrections(table, &key_raw, &county_text, &notes.0)
                    } else {
                        let c = t.out.count(&county_text, table);
                        c.read += 1;
                        c.merged += 1;
                        let merged = Correction {
                            code: C::BeneficiaryMerged,
                            field: "DXID",
                            before: Some(dxid.to_string()),
                            after: Some(survivor.to_string()),
                        };
                        t.out.corrections(table, &key_raw, &county_text, &[merged])
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::pipeline::Person;
    use crate::pipeline::testing::fixture;
    use ykt_domain::LegacyTable::Beneficiaries;

    /// A valid ID number from its first 17 characters.
    fn id(base: &str) -> String {
        let check = ykt_domain::id_check_char(base.as_bytes()).expect("17 digits");
        format!("{base}{}", check as char)
    }

    #[test]
    fn a_person_registered_twice_merges_and_each_row_keeps_its_own_county() {
        let mut f = fixture("beneficiaries");
        let twice = id("61080219800101001");
        let wrong_check = format!(
            "{}{}",
            &twice[..17],
            if twice.ends_with('0') { '1' } else { '0' }
        );
        let person =
            |dxid: &'static str, county: &'static str, sfzh: String, gxsj: &'static str| {
                vec![
                    ("DXID", dxid.to_owned()),
                    ("XM", "张三".to_owned()),
                    ("SFZH", sfzh),
                    ("XZQHDM", county.to_owned()),
                    ("DXZT", "1".to_owned()),
                    ("GXSJ", gxsj.to_owned()),
                ]
            };
        let rows = [
            person("1", "610802", twice.clone(), "2019-01-01 08:00:00"),
            // The same person, later, in another county: the survivor.
            person("2", "610881", twice.clone(), "2020-01-01 08:00:00"),
            person("3", "610802", wrong_check, "2019-01-01 08:00:00"),
            // A multi-byte character where the 18th byte would be: read, never sliced.
            person(
                "4",
                "610802",
                "610104620927690号".to_owned(),
                "2019-01-01 08:00:00",
            ),
        ];
        f.legacy_owned(Beneficiaries, &rows);
        f.t.beneficiaries().unwrap();

        let home = f.counts("610802", Beneficiaries);
        assert_eq!(
            (home.read, home.loaded, home.merged, home.rejected),
            (3, 0, 1, 2)
        );
        let moved = f.counts("610881", Beneficiaries);
        assert_eq!((moved.read, moved.loaded, moved.merged), (1, 1, 0));
        assert_eq!(f.code("C_BENEFICIARY_MERGED"), 1);
        assert_eq!(f.code("R_ID_CHECKSUM"), 1);
        // The merged row's lines fall back to the county of the row they name (610802).
        match f.t.people[&1] {
            Person::Loaded {
                beneficiary_id,
                county,
            } => {
                assert_eq!((beneficiary_id, county), (2, 610802));
            }
            Person::Rejected { .. } => panic!("DXID 1 is merged, not rejected"),
        }
        assert!(matches!(
            f.t.people[&3],
            Person::Rejected { county: 610802 }
        ));
        let people = f.staged("610881", "beneficiary");
        assert_eq!(people.len(), 1);
        assert_eq!(people[0]["id"], "2");
        assert_eq!(people[0]["id_number"], twice);
        let map = f.staged("610881", "beneficiary_legacy_map");
        let pairs: Vec<(&str, &str)> = map
            .iter()
            .map(|m| (m["legacy_dxid"].as_str(), m["beneficiary_id"].as_str()))
            .collect();
        assert_eq!(pairs, [("1", "2"), ("2", "2")]);
    }

    /// The writers' memory budget decides only when rows reach the disk: a transform that
    /// spills all the time stages the same rows as one that never does.
    #[test]
    fn the_writers_budget_changes_no_staged_row() {
        let people: Vec<Vec<(&str, String)>> = (0..9000u32)
            .map(|i| {
                let county = ["610802", "610881", "610102"][i as usize % 3];
                let born = format!("1980{:02}{:02}", 1 + i % 12, 1 + (i / 12) % 28);
                let sfzh = id(&format!("{county}{born}{:03}", i / 336));
                vec![
                    ("DXID", (i + 1).to_string()),
                    ("XM", format!("张{i}")),
                    ("SFZH", sfzh),
                    ("XZQHDM", county.to_owned()),
                    ("DXZT", "1".to_owned()),
                    ("GXSJ", "2020-01-01 08:00:00".to_owned()),
                ]
            })
            .collect();
        let staged = |name: &str, budget: usize| {
            let mut f = fixture(name);
            f.t.out.budget = budget;
            f.legacy_owned(Beneficiaries, &people);
            f.t.beneficiaries().unwrap();
            ["610802", "610881", "610102"].map(|c| {
                (
                    f.staged(c, "beneficiary"),
                    f.staged(c, "beneficiary_legacy_map"),
                )
            })
        };
        let spilling = staged("budget_spilling", 0);
        assert_eq!(spilling[0].0.len(), 3000);
        assert_eq!(
            spilling,
            staged("budget_default", crate::pipeline::WRITERS_BUDGET)
        );
    }
}
