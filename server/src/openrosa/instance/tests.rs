use super::*;
use crate::openrosa::xml::{Limits, parse};

const FORM: &str = r#"<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" xmlns:entities="http://www.opendatakit.org/xforms/entities">
<h:head><model entities:entities-version="2024.1.0"><instance><data id="hh"><size/><loc/><photo/><when/><day/><kinds/><p><age/><meta><entity/></meta></p><meta><instanceID/><entity/></meta></data></instance>
<bind nodeset="/data/size" type="int" entities:saveto="size"/>
<bind nodeset="/data/loc" type="geopoint"/>
<bind nodeset="/data/photo" type="binary"/>
<bind nodeset="/data/when" type="dateTime"/>
<bind nodeset="/data/day" type="date"/>
<bind nodeset="/data/p/age" type="int" entities:saveto="age"/>
</model></h:head><h:body><select ref="/data/kinds"/><repeat nodeset="/data/p"/></h:body></h:html>"#;

fn schema() -> FormSchema {
    FormSchema::read(&parse(FORM.as_bytes(), &Limits::FORM).unwrap()).unwrap()
}

fn submit(xml: &str) -> Result<Submission, crate::openrosa::problem::Problem> {
    read(
        &parse(xml.as_bytes(), &Limits::SUBMISSION).unwrap(),
        &schema(),
    )
}

#[test]
fn reads_meta_values_and_entities() {
    let s = submit(r#"<data id="hh" version="3"><size>4</size><loc>38.5 106.2 1100.5 8.2</loc><photo>1.jpg</photo>
<when>2026-11-28T10:00:00.000+08:00</when><day>2026-11-28</day><kinds>a b</kinds>
<p><age>40</age><meta><entity dataset="members" id="0192f5a0-0000-7000-8000-000000000001" create="1"><label>甲</label></entity></meta></p>
<p><age>9</age><meta><entity dataset="members" id="0192f5a0-0000-7000-8000-000000000002" create="1"/></meta></p>
<meta><instanceID>uuid:a</instanceID><deprecatedID>uuid:b</deprecatedID><timeStart>2026-11-28T09:58:00.000+08:00</timeStart><timeEnd>2026-11-28T10:03:00.000+08</timeEnd><deviceID>collect:X</deviceID>
<entity dataset="households" id="0192f5a0-0000-7000-8000-0000000000aa" update="1" baseVersion="3" trunkVersion="2" branchId="b1"><label>户</label></entity></meta></data>"#).unwrap();
    assert_eq!(
        (s.form_id.as_str(), s.version.as_deref()),
        ("hh", Some("3"))
    );
    assert_eq!(s.instance_id.as_deref(), Some("uuid:a"));
    assert_eq!(s.deprecated_id.as_deref(), Some("uuid:b"));
    assert_eq!(s.device_id.as_deref(), Some("collect:X"));
    assert_eq!(
        s.ended.unwrap() - s.started.unwrap(),
        time::Duration::minutes(5),
        "+08 is read as +08:00"
    );
    assert_eq!(s.get("/data/size"), Some(&Answer::Int(4)));
    assert_eq!(s.attachments(), ["1.jpg"]);
    let (_, p) = s.geopoints()[0];
    assert_eq!(
        (p.lat, p.lon, p.altitude, p.accuracy),
        (38.5, 106.2, Some(1100.5), Some(8.2))
    );
    assert_eq!(
        s.get("/data/kinds"),
        Some(&Answer::Choices(vec!["a".into(), "b".into()]))
    );
    assert_eq!(s.all("/data/p/age").count(), 2);
    assert_eq!(s.entities.len(), 3);
    let child = &s.entities[1];
    assert_eq!((child.dataset.as_str(), child.create), ("members", true));
    assert_eq!(child.properties, [("age".to_owned(), "9".to_owned())]);
    let hh = &s.entities[2];
    assert_eq!(
        (
            hh.update,
            hh.base_version,
            hh.trunk_version,
            hh.branch_id.as_deref(),
            hh.label.as_deref()
        ),
        (true, Some(3), Some(2), Some("b1"), Some("户"))
    );
    assert_eq!(
        hh.properties,
        [("size".to_owned(), "4".to_owned())],
        "count outside the repeat is the household's"
    );
}

#[test]
fn bad_values_name_their_path() {
    let soft = |xml: &str| {
        let s = submit(xml).unwrap();
        s.problems
            .iter()
            .map(|p| p.path.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        soft(r#"<data id="hh"><p><age>x</age></p><p><age>3</age></p></data>"#),
        ["/data/p[1]/age"]
    );
    assert_eq!(
        soft(r#"<data id="hh"><loc>91 0 0 0</loc></data>"#),
        ["/data/loc"]
    );
    assert_eq!(
        soft(r#"<data id="hh"><photo>../etc/passwd</photo></data>"#),
        ["/data/photo"]
    );
    let s = submit(r#"<data id="hh"><photo>../etc/passwd</photo></data>"#).unwrap();
    assert!(
        s.attachments().is_empty(),
        "a refused file name names no attachment"
    );
    let e =
        submit(r#"<data id="hh"><meta><entity dataset="x" id="nope" create="1"/></meta></data>"#)
            .unwrap_err();
    assert_eq!(e.path.as_deref(), Some("/data/meta/entity/@id"));
    assert!(
        submit(r#"<data><size>1</size></data>"#).is_err(),
        "no form id"
    );
    let e = submit(r#"<data id="hh"><meta><timeStart>yesterday</timeStart></meta></data>"#)
        .unwrap_err();
    assert_eq!(e.path.as_deref(), Some("/data/meta/timeStart"));
}

#[test]
fn geopoints_take_two_to_four_numbers() {
    use value::geopoint;
    assert!(geopoint("36.99 -121.33").is_some());
    assert!(geopoint("36.99 -121.33 0 0").is_some());
    assert!(geopoint("36.99").is_none());
    assert!(geopoint("1 2 3 4 5").is_none());
    assert!(geopoint("1 2 3 -4").is_none(), "negative accuracy");
    assert!(geopoint("NaN 2").is_none());
}
