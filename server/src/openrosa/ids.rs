//! Ids made from what Collect sends, the same every time the same submission arrives.
//!
//! The push pipeline takes only UUID version 7 for mutation ids and new records
//! (`sync/validate.rs`). Collect names a submission `uuid:<v4>` and a new entity with a v4 (as
//! the Entities spec requires). Everything else is derived: SHA-256 over a purpose
//! and the names, laid out as a v7 (version and variant bits set, the other 122 bits from the
//! hash). Their "time" bits are hash bits too: nothing reads a v7's time (ordering is by
//! sequence number), and an id that depended on a clock would not be the same on a resend.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A v7-shaped id from a purpose and parts; the parts are length-prefixed, so no two
/// different lists of parts hash alike.
pub fn derived(purpose: &str, parts: &[&str]) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"fieldsync/openrosa/");
    for p in std::iter::once(purpose).chain(parts.iter().copied()) {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    Uuid::from_bytes(b)
}

/// A derived id whose first 48 bits (a v7's "time", which nothing reads) are `group`: ids
/// derived in one group sort next to each other. A bulk writer that derives its ids per group
/// (the roster import, per village) then writes each index's entries onto a few neighbouring
/// pages, where hash-spread ids would dirty one page per index per record: at half a million
/// records that is most of what an import's commits write.
pub fn derived_in(group: u64, purpose: &str, parts: &[&str]) -> Uuid {
    let mut b = *derived(purpose, parts).as_bytes();
    b[..6].copy_from_slice(&group.to_be_bytes()[2..]);
    Uuid::from_bytes(b)
}

/// The group an id sorts in: its first 48 bits, so that ids derived from it sort beside it.
pub fn group_of(id: Uuid) -> u64 {
    let b = id.as_bytes();
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// The mutation a submission becomes: one per (form, instanceID), so a resend is a duplicate.
pub fn mutation(form_id: &str, instance_id: &str) -> Uuid {
    derived("mutation", &[form_id, &normalize_instance_id(instance_id)])
}

/// The record an append-only submission (a check, a visit, a survey) creates; a correction's
/// `deprecatedID` names the record it supersedes the same way.
pub fn record(form_id: &str, instance_id: &str) -> Uuid {
    derived("record", &[form_id, &normalize_instance_id(instance_id)])
}

/// The record of an entity Collect names: the id itself when it is a v7 (a record the server
/// listed), else one derived from it (an entity Collect created with the v4 the Entities spec
/// requires). The same derivation turns every reference to such an entity into its record.
pub fn entity(dataset: &str, id: Uuid) -> Uuid {
    if id.get_version_num() == 7 {
        id
    } else {
        derived("entity", &[dataset, &id.to_string()])
    }
}

/// `uuid:ABC…` and `ABC…` name the same instance; case does not matter (Central's advice:
/// normalise `uuid:` and case).
pub fn normalize_instance_id(id: &str) -> String {
    let id = id.trim();
    let bare = id
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("uuid:"))
        .map_or(id, |_| &id[5..]);
    bare.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_v7_and_distinct() {
        let a = mutation("housing_check", "uuid:0F6E5C3A-1111-4222-8333-444455556666");
        assert_eq!(
            a,
            mutation("housing_check", "0f6e5c3a-1111-4222-8333-444455556666")
        );
        assert_eq!(a.get_version_num(), 7);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(
            a,
            record("housing_check", "uuid:0f6e5c3a-1111-4222-8333-444455556666")
        );
        assert_ne!(
            a,
            mutation("water_check", "uuid:0f6e5c3a-1111-4222-8333-444455556666")
        );
        assert_ne!(derived("x", &["ab", "c"]), derived("x", &["a", "bc"]));
        // Pinned: the ids of every stored OpenRosa record depend on this staying the same.
        // (Computed independently with Python's hashlib.)
        assert_eq!(
            derived("record", &["f", "i"]).to_string(),
            "e4ac2698-2b8a-7544-9dfc-529907eb738f"
        );
    }

    #[test]
    fn ids_derived_in_a_group_sort_together_and_stay_v7() {
        let a = derived_in(640_104_001_002, "roster-household", &["1"]);
        let b = derived_in(640_104_001_002, "roster-household", &["2"]);
        let c = derived_in(640_104_001_003, "roster-household", &["1"]);
        assert_ne!(a, b);
        assert_eq!(a, derived_in(640_104_001_002, "roster-household", &["1"]));
        for id in [a, b, c] {
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        }
        assert_eq!(group_of(a), 640_104_001_002);
        assert_eq!(group_of(a), group_of(b));
        assert!(
            a.max(b) < c,
            "a later group sorts after every id of an earlier one"
        );
        assert_eq!(
            group_of(derived_in(group_of(c), "roster-member", &["x"])),
            group_of(c)
        );
    }

    #[test]
    fn entity_ids_keep_collects_v7_and_derive_others() {
        let v7 = Uuid::now_v7();
        assert_eq!(entity("households", v7), v7);
        let v4 = Uuid::new_v4();
        let d = entity("households", v4);
        assert_eq!(d.get_version_num(), 7);
        assert_eq!(d, entity("households", v4));
        assert_ne!(d, entity("members", v4));
    }
}
