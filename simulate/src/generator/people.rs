//! People (T_BTDX): each county's households with their quirks, duplicate registrations within
//! the county (Q8), people registered in an earlier county too (moved, or an ID number shared
//! by mistake), hostile text and rows with several defects, each with the platform rows the
//! spec says they become.

use std::collections::HashSet;

use chrono::{Datelike, Duration, NaiveDate};
use ykt_domain::{
    AuditFlag, CorrectionCode as C, LegacyTable, RejectCode as R, UNATTRIBUTED_COUNTY,
};

use super::{
    AuditQuota, BANKS, County, Fate, Gen, Person, datetime, id_variant_for, kept, make_account,
    make_id, random_date, to_id15, wrong_check,
};
use crate::SimError;
use crate::names;
use crate::params::Quirk;
use crate::rng::Rng;
use crate::truth::{FlagCase, TruthWriter};
use crate::variants::{self, Outcome, Variant, iso};

/// A person of an earlier county whom a later county registers again.
#[derive(Debug, Clone)]
pub(super) struct Carried {
    id18: String,
    name: String,
    /// The DXID the platform keeps the person under (the row with the latest GXSJ).
    survivor: i64,
    /// The survivor's GXSJ day: a later registration is stamped before it, so it is merged.
    gxsj: NaiveDate,
    programs: Vec<usize>,
    county: String,
}

/// How many people of each county later counties may register again.
const CARRIED_PER_COUNTY: usize = 40;

/// One T_BTDX row: the raw values written, and the platform values the rules must make of them.
struct PersonRow {
    dxid: i64,
    xm: Option<String>,
    name: String,
    sfzh: Option<String>,
    id18: String,
    xzqhdm: String,
    /// The village code under the current county.
    area: String,
    zz: Option<String>,
    lxdh: Option<String>,
    yhzh: Option<String>,
    /// The account as the platform must hold it (none when the rules clear it).
    account: Option<String>,
    /// The person's real account, which its payment lines are sent to.
    bank_account: String,
    khyh: Option<String>,
    hzsfzh: Option<String>,
    head: Option<String>,
    dxzt: String,
    status: &'static str,
    swrq: Option<String>,
    deceased_on: Option<NaiveDate>,
    cjsj: NaiveDate,
    gxsj: NaiveDate,
    fate: Fate,
}

impl PersonRow {
    fn legacy_row(&self, rng: &mut Rng) -> Vec<Option<String>> {
        vec![
            Some(self.dxid.to_string()),
            self.xm.clone(),
            self.sfzh.clone(),
            Some(self.xzqhdm.clone()),
            self.zz.clone(),
            self.lxdh.clone(),
            self.yhzh.clone(),
            self.khyh.clone(),
            self.hzsfzh.clone(),
            Some(self.dxzt.clone()),
            self.swrq.clone(),
            Some(datetime(self.cjsj, rng)),
            Some(datetime(self.gxsj, rng)),
        ]
    }

    /// The platform's beneficiary row when this row is the survivor.
    fn beneficiary(&self, county: &str) -> Vec<(&'static str, Option<String>)> {
        let text = |v: &Option<String>| v.as_ref().map(|t| t.replace('\0', ""));
        vec![
            ("id", Some(self.dxid.to_string())),
            ("id_number", Some(self.id18.clone())),
            ("name", Some(self.name.clone())),
            ("county_code", Some(county.to_owned())),
            ("area_code", Some(self.area.clone())),
            ("address", text(&self.zz)),
            ("phone", text(&self.lxdh)),
            ("account_no", self.account.clone()),
            ("bank_name", text(&self.khyh)),
            ("household_head_id_number", self.head.clone()),
            ("status", Some(self.status.to_owned())),
            ("deceased_on", self.deceased_on.map(iso)),
        ]
    }
}

/// What one household member draws before its row is written.
struct Draw {
    dxid: i64,
    enroll: Vec<super::Enrollment>,
    birth: NaiveDate,
    death: Option<NaiveDate>,
    suspended: bool,
    twin: bool,
    quirk: Option<Quirk>,
}

/// The running state of one county's people.
struct Households {
    used_ids: HashSet<String>,
    household: u32,
    account_seq: u64,
    county_index: usize,
    quota: AuditQuota,
}

fn status_name(code: &str) -> &'static str {
    match code {
        "9" => "deceased",
        "2" => "suspended",
        _ => "active",
    }
}

/// A GBK-writable multi-byte character at a character position of `text`.
fn with_multibyte(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len() as u64 + 1) as usize;
    chars.insert(at, *rng.pick(&['号', '〇', '：', '１', 'Ｘ', '（']));
    chars.into_iter().collect()
}

/// `text` with a NUL at a random character position.
fn with_nul(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len() as u64 + 1) as usize;
    chars.insert(at, '\0');
    chars.into_iter().collect()
}

/// Free text that fills its column: `len` characters.
fn column_filling(rng: &mut Rng, len: usize) -> String {
    let mut out = String::new();
    while out.chars().count() < len {
        out.push_str(&names::place_name(rng));
    }
    out.chars().take(len).collect()
}

impl Gen<'_> {
    pub(super) fn people(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
    ) -> Result<Vec<Person>, SimError> {
        let target = self.params.beneficiaries_per_county as usize;
        let mut people: Vec<Person> = Vec::with_capacity(target + target / 50);
        let mut h = Households {
            used_ids: HashSet::new(),
            household: 0,
            account_seq: 0,
            county_index: self
                .regions
                .counties()
                .position(|c| c.code == county.current)
                .unwrap_or(0),
            quota: AuditQuota::default(),
        };
        let mut carry = Vec::new();
        let mut carried_in = std::mem::take(&mut self.carried);
        while people.len() < target {
            h.household += 1;
            if let Some(person) =
                self.registered_again(truth, rng, county, &mut h, &mut carried_in)?
            {
                people.push(person);
                continue;
            }
            let size = [1, 2, 3, 4][rng.weighted(&[30, 30, 25, 15])];
            let village = rng.below(county.villages.len() as u64) as usize;
            let mut head: Option<(String, bool)> = None;
            for member in 0..size {
                let draw = self.draw_member(truth, rng);
                let (row, twin_of) =
                    self.member_rows(truth, rng, county, &mut h, &draw, village, &head)?;
                if member == 0 {
                    head = Some((row.id18.clone(), draw.birth.year() < 2000));
                }
                let eligible_to_carry = draw.quirk.is_none()
                    && twin_of.is_none()
                    && draw.death.is_none()
                    && !draw.suspended;
                if eligible_to_carry && carry.len() < CARRIED_PER_COUNTY {
                    carry.push(Carried {
                        id18: row.id18.clone(),
                        name: row.name.clone(),
                        survivor: row.dxid,
                        gxsj: row.gxsj,
                        programs: draw.enroll.iter().map(|e| e.program).collect(),
                        county: county.current.clone(),
                    });
                }
                self.write_members(truth, rng, county, &mut h, draw, row, twin_of, &mut people)?;
            }
        }
        // The people a later county may register again.
        self.carried = carry;
        Ok(people)
    }

    /// Birth, death, programs, a duplicate registration (Q8) and at most one other quirk.
    fn draw_member(&mut self, truth: &mut TruthWriter, rng: &mut Rng) -> Draw {
        let dxid = super::bump(&mut self.next.dxid);
        let enroll = self.enrollments(rng, &[], 3);
        let elderly = self.programs.iter().position(|p| p.code == "MZ003");
        let is_elderly = elderly.is_some_and(|e| enroll.iter().any(|x| x.program == e));
        let birth = if is_elderly {
            random_date(rng, 1920, 1940)
        } else {
            random_date(rng, 1935, 2000)
        };
        let deceased = rng.percent(if is_elderly { 10 } else { 3 });
        let death = deceased.then(|| random_date(rng, 2014, 2019));
        let suspended = !deceased && rng.percent(1);
        let twin = self.draw(truth, rng, &[Quirk::Q8]).is_some();
        let mut options = vec![
            Quirk::Q1,
            Quirk::Q2,
            Quirk::Q3,
            Quirk::Q6,
            Quirk::Q11,
            Quirk::Hostile,
            Quirk::Multi,
        ];
        if deceased {
            options.push(Quirk::Q5);
        }
        let quirk = if twin {
            None
        } else {
            self.draw(truth, rng, &options)
        };
        Draw {
            dxid,
            enroll,
            birth,
            death,
            suspended,
            twin,
            quirk,
        }
    }

    /// A household member's row, and the row of its duplicate registration when it has one.
    #[allow(clippy::too_many_arguments)]
    fn member_rows(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        h: &mut Households,
        d: &Draw,
        village: usize,
        head: &Option<(String, bool)>,
    ) -> Result<(PersonRow, Option<PersonRow>), SimError> {
        // ID number: variants that need a trailing X ask for one.
        let id_variant = (d.quirk == Some(Quirk::Q1)).then(|| {
            let on_head = head.is_some() && rng.percent(30);
            (on_head, rng.weighted(&[20, 15, 15, 15, 15, 10, 10]))
        });
        let want_x = matches!(id_variant, Some((false, 1 | 6)));
        let birthplace = self.birthplace(rng, county);
        let id18 = make_id(rng, &birthplace, d.birth, &mut h.used_ids, want_x);
        let name = names::person_name(rng);
        let (village_code, village_name) = county.villages[village].clone();
        let status_code = if d.death.is_some() {
            "9"
        } else if d.suspended {
            "2"
        } else {
            "1"
        };
        let (bank, prefix, len) = *rng.pick(BANKS);
        h.account_seq += 1;
        let account = make_account(rng, prefix, len, h.county_index, h.account_seq);
        let first_year = d
            .enroll
            .iter()
            .map(|e| e.from_year)
            .min()
            .unwrap_or(self.params.first_year);
        let cjsj = NaiveDate::from_ymd_opt(first_year, 1, 5).expect("date")
            + Duration::days(rng.range(0, 60));
        // Last changed within 400 days, but before the cutover (legacy data is as of the
        // pause; a stamp after the freeze would be a write after it).
        let horizon = (NaiveDate::from_ymd_opt(2020, 11, 30).expect("date") - cjsj)
            .num_days()
            .clamp(1, 400);
        let gxsj = cjsj + Duration::days(rng.range(0, horizon));
        let mut row = PersonRow {
            dxid: d.dxid,
            xm: Some(name.clone()),
            name,
            sfzh: Some(id18.clone()),
            id18,
            area: format!("{}{}", county.current, &village_code[6..]),
            xzqhdm: village_code,
            zz: Some(format!(
                "{}{village_name}{}组",
                county.name,
                rng.range(1, 9)
            )),
            lxdh: Some(format!(
                "1{}{:09}",
                rng.pick(&["3", "5", "8"]),
                rng.below(1_000_000_000)
            )),
            yhzh: Some(account.clone()),
            account: Some(account.clone()),
            bank_account: account,
            khyh: Some(bank.to_owned()),
            hzsfzh: head.as_ref().map(|(id, _)| id.clone()),
            head: head.as_ref().map(|(id, _)| id.clone()),
            dxzt: status_code.to_owned(),
            status: status_name(status_code),
            swrq: d.death.map(iso),
            deceased_on: d.death,
            cjsj,
            gxsj,
            fate: Fate::default(),
        };
        match d.quirk {
            Some(Quirk::Q1) => {
                let (on_head, pick) = id_variant.expect("drawn with Q1");
                self.id_quirk(rng, &mut row, on_head, pick, d.birth, head);
            }
            Some(Quirk::Hostile) => self.hostile_person(rng, &mut row),
            Some(Quirk::Multi) => multi_person(rng, &mut row),
            Some(quirk) => person_quirk(rng, &mut row, quirk),
            None => {}
        }
        if county.obsolete && !row.fate.rejected() {
            row.fate.corrections.insert(0, C::RegionRemapped);
        }
        let twin = if d.twin {
            Some(self.twin_row(truth, rng, (county, &village_name), h, &row, d)?)
        } else {
            None
        };
        Ok((row, twin))
    }

    /// A Q1 variant of the person's own ID number or of its household head's.
    fn id_quirk(
        &mut self,
        rng: &mut Rng,
        row: &mut PersonRow,
        on_head: bool,
        pick: usize,
        birth: NaiveDate,
        head: &Option<(String, bool)>,
    ) {
        if on_head {
            let (head_id, head_born_1900s) = head.clone().expect("a head");
            let variant = match pick % 3 {
                0 if head_born_1900s => Variant {
                    name: "head_id15",
                    raw: Some(to_id15(&head_id)),
                    outcome: Outcome::Correct(C::Id15Upgraded),
                },
                0 | 1 => Variant {
                    name: "head_spaces",
                    raw: Some(format!(" {head_id}")),
                    outcome: Outcome::Correct(C::IdNormalized),
                },
                _ => Variant {
                    name: "head_wrong_check",
                    raw: Some(wrong_check(rng, &head_id)),
                    outcome: Outcome::Correct(C::ValueCleared),
                },
            };
            row.hzsfzh = variant.raw.clone();
            row.head = kept(&variant, head_id);
            row.fate.apply(Quirk::Q1, "HZSFZH", &variant);
        } else {
            let variant = id_variant_for(rng, pick, &row.id18, birth);
            row.sfzh = variant.raw.clone();
            row.fate.apply(Quirk::Q1, "SFZH", &variant);
        }
    }

    /// Hostile text in one field of a person's row.
    fn hostile_person(&mut self, rng: &mut Rng, row: &mut PersonRow) {
        let pick = rng.weighted(&[25, 15, 15, 15, 15, 15]);
        let (field, variant) = match pick {
            0 => {
                let raw = with_multibyte(rng, &row.id18);
                (
                    "SFZH",
                    v("multibyte_in_id", raw, Outcome::Reject(R::IdInvalid)),
                )
            }
            1 | 2 if self.params.nul_in_text => {
                let (field, value) = if pick == 1 {
                    ("ZZ", row.zz.clone().unwrap_or_default())
                } else {
                    ("KHYH", row.khyh.clone().unwrap_or_default())
                };
                (
                    field,
                    v(
                        "nul_in_text",
                        with_nul(rng, &value),
                        Outcome::Correct(C::TextCleaned),
                    ),
                )
            }
            1 => (
                "ZZ",
                v("column_filling", column_filling(rng, 200), Outcome::Keep),
            ),
            2 => (
                "KHYH",
                v("column_filling", column_filling(rng, 100), Outcome::Keep),
            ),
            3 => {
                let long = column_filling(rng, 50);
                row.name = long.clone();
                ("XM", v("column_filling", long, Outcome::Keep))
            }
            4 => {
                let raw = row
                    .dxzt
                    .replace('1', "１")
                    .replace('2', "２")
                    .replace('9', "９");
                (
                    "DXZT",
                    v("full_width_status", raw, Outcome::Reject(R::StatusUnknown)),
                )
            }
            _ => {
                let raw = with_multibyte(rng, row.yhzh.as_deref().unwrap_or(""));
                row.account = None;
                (
                    "YHZH",
                    v(
                        "multibyte_in_account",
                        raw,
                        Outcome::Correct(C::ValueCleared),
                    ),
                )
            }
        };
        match field {
            "SFZH" => row.sfzh = variant.raw.clone(),
            "ZZ" => row.zz = variant.raw.clone(),
            "KHYH" => row.khyh = variant.raw.clone(),
            "XM" => row.xm = variant.raw.clone(),
            "DXZT" => row.dxzt = variant.raw.clone().unwrap_or_default(),
            _ => row.yhzh = variant.raw.clone(),
        }
        row.fate.apply(Quirk::Hostile, field, &variant);
    }

    /// The duplicate registration of a person in the same county (Q8), in another village and
    /// other programs; the row with the later GXSJ survives the merge.
    fn twin_row(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        (county, village_name): (&County, &str),
        h: &mut Households,
        original: &PersonRow,
        d: &Draw,
    ) -> Result<PersonRow, SimError> {
        let twin_dxid = super::bump(&mut self.next.dxid);
        let later = rng.percent(50);
        let gxsj = if later {
            original.gxsj + Duration::days(rng.range(1, 30))
        } else {
            original.gxsj - Duration::days(rng.range(1, 30))
        };
        let kind = rng.weighted(&[40, 30, 30]);
        let (variant, sfzh, name) = match kind {
            1 if d.birth.year() < 2000 => (
                "id15_and_id18",
                to_id15(&original.id18),
                original.name.clone(),
            ),
            2 => (
                "name_conflict",
                original.id18.clone(),
                names::conflicting_name(rng, &original.name),
            ),
            _ => ("same_id", original.id18.clone(), original.name.clone()),
        };
        let (other_village, _) =
            county.villages[rng.below(county.villages.len() as u64) as usize].clone();
        let mut fate = Fate {
            quirk: Some(Quirk::Q8),
            variant,
            field: Some("SFZH"),
            raw: Some(sfzh.clone()),
            ..Fate::default()
        };
        if later {
            if county.obsolete {
                fate.corrections.push(C::RegionRemapped);
            }
            if variant == "id15_and_id18" {
                fate.corrections.push(C::Id15Upgraded);
            }
        } else {
            fate.merged = true;
        }
        if variant == "name_conflict" {
            fate.field = Some("XM");
            fate.raw = Some(name.clone());
            truth.flag(FlagCase {
                flag: AuditFlag::NameConflict.code(),
                table: "T_BTDX",
                keys: vec![original.dxid, twin_dxid],
                county: county.current.clone(),
            });
        }
        let (bank, prefix, len) = *rng.pick(BANKS);
        h.account_seq += 1;
        let account = make_account(rng, prefix, len, h.county_index, h.account_seq);
        let cjsj = gxsj - Duration::days(rng.range(0, 30));
        Ok(PersonRow {
            dxid: twin_dxid,
            xm: Some(name.clone()),
            name,
            sfzh: Some(sfzh),
            id18: original.id18.clone(),
            area: format!("{}{}", county.current, &other_village[6..]),
            xzqhdm: other_village,
            zz: Some(format!("{}{village_name}", county.name)),
            lxdh: None,
            yhzh: Some(account.clone()),
            account: Some(account.clone()),
            bank_account: account,
            khyh: Some(bank.to_owned()),
            // A twin is never drawn with a quirk: the head's ID number is clean.
            hzsfzh: original.head.clone(),
            head: original.head.clone(),
            dxzt: original.status_code().to_owned(),
            status: original.status,
            swrq: d.death.map(iso),
            deceased_on: d.death,
            cjsj,
            gxsj,
            fate,
        })
    }

    /// Writes a member's rows (and its twin's) with their fates and expected platform rows, and
    /// adds them to the county's people.
    #[allow(clippy::too_many_arguments)]
    fn write_members(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        h: &mut Households,
        d: Draw,
        mut row: PersonRow,
        twin: Option<PersonRow>,
        people: &mut Vec<Person>,
    ) -> Result<(), SimError> {
        let rejected = row.fate.rejected();
        let person_county = if row.fate.has_defect(R::RegionUnknown) {
            UNATTRIBUTED_COUNTY.to_owned()
        } else {
            county.current.clone()
        };
        let clean = d.quirk.is_none() && !d.twin && !county.obsolete;
        let programs: Vec<usize> = d.enroll.iter().map(|e| e.program).collect();
        let paid_after_death_case =
            clean && d.death.is_some() && h.quota.take(AuditFlag::PaidAfterDeath, self.params);
        let twin_enroll = twin.as_ref().map(|_| self.enrollments(rng, &programs, 1));
        let mut all_programs = programs;
        if let Some(te) = &twin_enroll {
            all_programs.extend(te.iter().map(|e| e.program));
        }
        // The row with the later GXSJ survives.
        let survivor = match &twin {
            _ if rejected => None,
            Some(t) if t.gxsj > row.gxsj => Some(t.dxid),
            _ => Some(row.dxid),
        };
        if survivor.is_some_and(|s| s != row.dxid) {
            row.fate = Fate {
                merged: true,
                ..Fate::default()
            };
        }
        let account = row.bank_account.clone();
        self.write_person(truth, rng, county, &mut row, survivor, &person_county)?;
        people.push(Person {
            dxid: row.dxid,
            household: h.household,
            account: account.clone(),
            death: d.death,
            suspended: d.suspended,
            enroll: d.enroll,
            rejected,
            clean,
            county: person_county,
            all_programs: all_programs.clone(),
            paid_after_death_case,
            program_mismatch_used: false,
            survivor,
        });
        if let (Some(mut twin), Some(enroll)) = (twin, twin_enroll) {
            let twin_account = twin.bank_account.clone();
            self.write_person(truth, rng, county, &mut twin, survivor, &county.current)?;
            people.push(Person {
                dxid: twin.dxid,
                household: h.household,
                account: twin_account,
                death: d.death,
                suspended: d.suspended,
                enroll,
                rejected: false,
                clean: false,
                county: county.current.clone(),
                all_programs,
                paid_after_death_case: false,
                program_mismatch_used: false,
                survivor,
            });
        }
        Ok(())
    }

    /// Emits one T_BTDX row, records its fate, and the platform rows it becomes: the
    /// beneficiary when it is the survivor, its legacy map row when it is loaded or merged.
    fn write_person(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        row: &mut PersonRow,
        survivor: Option<i64>,
        row_county: &str,
    ) -> Result<(), SimError> {
        let legacy = row.legacy_row(rng);
        self.emit(truth, &county.current, LegacyTable::Beneficiaries, legacy)?;
        if let Some(s) = survivor {
            if s == row.dxid {
                truth.expect_row("beneficiary", row.dxid, &row.beneficiary(&county.current))?;
            }
            truth.expect_row(
                "beneficiary_legacy_map",
                row.dxid,
                &[
                    ("legacy_dxid", Some(row.dxid.to_string())),
                    ("beneficiary_id", Some(s.to_string())),
                ],
            )?;
        }
        let fate = std::mem::take(&mut row.fate);
        self.record(
            truth,
            LegacyTable::Beneficiaries,
            row.dxid,
            row_county,
            fate,
        )
    }

    /// A person of an earlier county registered here again (MOVED), or another person with the
    /// same ID number (SHARED_ID): one row, stamped before the earlier registration so that it
    /// is the one merged, with programs of its own (never the same program, year and period
    /// twice).
    fn registered_again(
        &mut self,
        truth: &mut TruthWriter,
        rng: &mut Rng,
        county: &County,
        h: &mut Households,
        carried_in: &mut Vec<Carried>,
    ) -> Result<Option<Person>, SimError> {
        if carried_in.is_empty() {
            return Ok(None);
        }
        let Some(quirk) = self.draw(truth, rng, &[Quirk::Moved, Quirk::SharedId]) else {
            return Ok(None);
        };
        let index = rng.below(carried_in.len() as u64) as usize;
        let carried = carried_in.swap_remove(index);
        h.used_ids.insert(carried.id18.clone());
        let dxid = super::bump(&mut self.next.dxid);
        // Programs of its own: never the same person, program, year and period twice (the
        // fixed-amount programs are the ones a line's program may differ to, Q9).
        let mut exclude = carried.programs.clone();
        exclude.extend(
            self.programs
                .iter()
                .enumerate()
                .filter(|(_, p)| p.basis == ykt_domain::platform::Basis::Fixed)
                .map(|(i, _)| i),
        );
        let enroll = self.enrollments(rng, &exclude, 2);
        let (name, variant) = if quirk == Quirk::Moved {
            (carried.name.clone(), "moved_from_another_county")
        } else {
            let mut other = names::person_name(rng);
            while other == carried.name {
                other = names::person_name(rng);
            }
            (other, "id_shared_across_counties")
        };
        if quirk == Quirk::SharedId {
            truth.flag(FlagCase {
                flag: AuditFlag::NameConflict.code(),
                table: "T_BTDX",
                keys: vec![carried.survivor, dxid],
                county: carried.county.clone(),
            });
        }
        let village = rng.below(county.villages.len() as u64) as usize;
        let (village_code, village_name) = county.villages[village].clone();
        let (bank, prefix, len) = *rng.pick(BANKS);
        h.account_seq += 1;
        let account = make_account(rng, prefix, len, h.county_index, h.account_seq);
        let gxsj = carried.gxsj - Duration::days(rng.range(1, 60));
        let mut row = PersonRow {
            dxid,
            xm: Some(name.clone()),
            name,
            sfzh: Some(carried.id18.clone()),
            id18: carried.id18.clone(),
            area: format!("{}{}", county.current, &village_code[6..]),
            xzqhdm: village_code,
            zz: Some(format!("{}{village_name}", county.name)),
            lxdh: None,
            yhzh: Some(account.clone()),
            account: Some(account.clone()),
            bank_account: account.clone(),
            khyh: Some(bank.to_owned()),
            hzsfzh: None,
            head: None,
            dxzt: "1".into(),
            status: "active",
            swrq: None,
            deceased_on: None,
            cjsj: gxsj - Duration::days(rng.range(0, 300)),
            gxsj,
            fate: Fate {
                quirk: Some(quirk),
                variant,
                field: Some("SFZH"),
                raw: Some(carried.id18.clone()),
                merged: true,
                ..Fate::default()
            },
        };
        self.write_person(
            truth,
            rng,
            county,
            &mut row,
            Some(carried.survivor),
            &county.current,
        )?;
        let programs = enroll.iter().map(|e| e.program).collect();
        Ok(Some(Person {
            dxid,
            household: h.household,
            account,
            death: None,
            suspended: false,
            enroll,
            rejected: false,
            clean: false,
            county: county.current.clone(),
            all_programs: programs,
            paid_after_death_case: false,
            program_mismatch_used: false,
            survivor: Some(carried.survivor),
        }))
    }
}

impl PersonRow {
    fn status_code(&self) -> &'static str {
        match self.status {
            "deceased" => "9",
            "suspended" => "2",
            _ => "1",
        }
    }
}

fn v(name: &'static str, raw: String, outcome: Outcome) -> Variant {
    Variant {
        name,
        raw: Some(raw),
        outcome,
    }
}

/// Q2, Q3, Q5, Q6 or Q11 in a person's row.
fn person_quirk(rng: &mut Rng, row: &mut PersonRow, quirk: Quirk) {
    match quirk {
        Quirk::Q2 => {
            if rng.percent(40) && !row.name.contains('·') {
                row.name = format!(
                    "{}·{}",
                    row.name,
                    names::person_name(rng).chars().skip(1).collect::<String>()
                );
            }
            let variant = variants::name(rng, &row.name);
            row.xm = variant.raw.clone();
            row.fate.apply(Quirk::Q2, "XM", &variant);
        }
        Quirk::Q3 => {
            row.xzqhdm = format!("619{}", &row.xzqhdm[3..]);
            let variant = Variant::unknown_code(&row.xzqhdm);
            row.fate.apply(Quirk::Q3, "XZQHDM", &variant);
        }
        Quirk::Q5 => {
            let death = row.deceased_on.expect("drawn for the deceased");
            let variant = variants::date(rng, death, false);
            row.swrq = variant.raw.clone();
            row.deceased_on = kept(&variant, death);
            row.fate.apply(Quirk::Q5, "SWRQ", &variant);
        }
        Quirk::Q6 => {
            let variant = variants::status(rng, &row.dxzt);
            row.dxzt = variant.raw.clone().unwrap_or_default();
            row.fate.apply(Quirk::Q6, "DXZT", &variant);
        }
        Quirk::Q11 => {
            let account = row.account.clone().unwrap_or_default();
            let variant = variants::account(rng, &account);
            row.yhzh = variant.raw.clone();
            row.account = kept(&variant, account);
            row.fate.apply(Quirk::Q11, "YHZH", &variant);
        }
        _ => {}
    }
}

/// Two or three defects in one person's row: ID number, name, region, status.
fn multi_person(rng: &mut Rng, row: &mut PersonRow) {
    let mut fields = vec!["SFZH", "XM", "XZQHDM", "DXZT"];
    let keep = 2 + rng.below(2) as usize;
    while fields.len() > keep {
        fields.remove(rng.below(fields.len() as u64) as usize);
    }
    for field in fields {
        let variant = match field {
            "SFZH" if rng.percent(50) => v(
                "wrong_check_character",
                wrong_check(rng, &row.id18),
                Outcome::Reject(R::IdChecksum),
            ),
            "SFZH" => v(
                "letter_in_id",
                format!("{}A", &row.id18[..17]),
                Outcome::Reject(R::IdInvalid),
            ),
            "XM" => Variant {
                name: "empty",
                raw: None,
                outcome: Outcome::Reject(R::NameMissing),
            },
            "XZQHDM" => Variant::unknown_code(&format!("619{}", &row.xzqhdm[3..])),
            _ => v(
                "unknown_value",
                "7".into(),
                Outcome::Reject(R::StatusUnknown),
            ),
        };
        match field {
            "SFZH" => row.sfzh = variant.raw.clone(),
            "XM" => row.xm = variant.raw.clone(),
            "XZQHDM" => row.xzqhdm = variant.raw.clone().unwrap_or_default(),
            _ => row.dxzt = variant.raw.clone().unwrap_or_default(),
        }
        row.fate.apply(Quirk::Multi, field, &variant);
    }
}
