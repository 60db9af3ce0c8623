use super::*;
use crate::openrosa::problem::Kind;

fn read(s: &str) -> Result<Element, crate::openrosa::problem::Problem> {
    parse(s.as_bytes(), &Limits::SUBMISSION)
}

#[test]
fn reads_elements_attributes_and_text() {
    let root = read(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<data xmlns:orx="http://openrosa.org/xforms" id="housing_check" orx:version="3" version="4">
  <name>马 &amp; 福 &#x4E00;&#20108;<![CDATA[<raw>]]></name>
  <orx:meta><orx:instanceID>uuid:1</orx:instanceID></orx:meta>
</data>"#,
    )
    .unwrap();
    assert_eq!(root.name, "data");
    assert_eq!(root.attr("id"), Some("housing_check"));
    assert_eq!(root.attr("version"), Some("4"), "the unprefixed one wins");
    assert_eq!(
        root.attr_ns("http://openrosa.org/xforms", "version"),
        Some("3")
    );
    assert_eq!(root.child("name").unwrap().value(), "马 & 福 一二<raw>");
    let meta = root.child("meta").unwrap();
    assert_eq!(
        meta.namespace.as_deref(),
        Some("http://openrosa.org/xforms")
    );
    assert_eq!(meta.child("instanceID").unwrap().value(), "uuid:1");
}

#[test]
fn an_undeclared_orx_prefix_is_accepted_as_central_accepts_it() {
    let root = read(r#"<data id="x"><meta><orx:instanceName>one</orx:instanceName><n1:odd>2</n1:odd></meta></data>"#).unwrap();
    let meta = root.child("meta").unwrap();
    let name = meta.child("instanceName").unwrap();
    assert_eq!(
        name.namespace.as_deref(),
        Some("http://openrosa.org/xforms")
    );
    assert_eq!(meta.child("odd").unwrap().namespace, None);
}

#[test]
fn default_namespaces_apply_to_elements_not_attributes() {
    let root =
        read(r#"<data xmlns="http://opendatakit.org/submissions" id="x"><a xmlns="">1</a></data>"#)
            .unwrap();
    assert_eq!(
        root.namespace.as_deref(),
        Some("http://opendatakit.org/submissions")
    );
    assert_eq!(root.attributes[0].namespace, None);
    assert_eq!(root.child("a").unwrap().namespace, None);
}

#[test]
fn doctype_and_entities_are_refused() {
    let billion = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><data>&lol2;</data>"#;
    let e = read(billion).unwrap_err();
    assert_eq!(e.kind, Kind::Malformed);
    assert!(e.en.contains("DOCTYPE"), "{e}");
    let xxe = r#"<!DOCTYPE data [<!ENTITY x SYSTEM "file:///etc/passwd">]><data>&x;</data>"#;
    assert!(read(xxe).unwrap_err().en.contains("DOCTYPE"));
    let undeclared = read("<data><a>&nbsp;</a></data>").unwrap_err();
    assert!(undeclared.en.contains("&nbsp;"), "{undeclared}");
    assert_eq!(undeclared.path.as_deref(), Some("/data/a, line 1"));
    assert!(
        read(r#"<data a="&x;"/>"#).is_err(),
        "no entities in attributes"
    );
    assert!(
        read("<data>&#0;</data>").is_err(),
        "NUL is not an XML character"
    );
}

#[test]
fn limits_hold() {
    let deep = format!("{}{}", "<a>".repeat(60), "</a>".repeat(60));
    let e = read(&deep).unwrap_err();
    assert_eq!(e.kind, Kind::TooLarge);
    let big = vec![b' '; Limits::SUBMISSION.max_bytes + 1];
    assert_eq!(
        parse(&big, &Limits::SUBMISSION).unwrap_err().kind,
        Kind::TooLarge
    );
    let many = format!("<a>{}</a>", "<b/>".repeat(50_001));
    assert_eq!(read(&many).unwrap_err().kind, Kind::TooLarge);
}

#[test]
fn broken_documents_say_where() {
    let e = read("<data>\n<meta>\n<a>1</b></meta></data>").unwrap_err();
    assert_eq!(e.kind, Kind::Malformed);
    assert!(e.path.as_deref().unwrap().contains("line 3"), "{e:?}");
    assert!(read("<data/><data/>").is_err());
    assert!(read("<data>").is_err());
    assert!(read("text<data/>").is_err());
    assert!(parse(b"<data>\xff</data>", &Limits::SUBMISSION).is_err());
    assert!(read(r#"<?xml version="1.0" encoding="GB2312"?><data/>"#).is_err());
    assert!(read("\u{feff}<data/>").is_ok(), "a byte-order mark is fine");
}

#[test]
fn walking_numbers_repeats() {
    let root = read("<data><p><n>a</n></p><p><n>b</n></p><q/></data>").unwrap();
    let paths: Vec<String> = root.walk().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "/data",
            "/data/p[1]",
            "/data/p[1]/n",
            "/data/p[2]",
            "/data/p[2]/n",
            "/data/q"
        ]
    );
    assert_eq!(without_indexes("/data/p[2]/n"), "/data/p/n");
}

#[test]
fn the_writer_escapes_and_round_trips() {
    let mut w = Writer::new();
    w.open("root", &[("a", "x\"<&>\n\t")])
        .leaf("t", &[], "a < b & c > d\r\n")
        .leaf("e", &[], "")
        .mixed(
            "label",
            &[],
            &[
                Inline::Text("住户 ".into()),
                Inline::Empty("output", vec![("value", "/data/a < 2".into())]),
            ],
        );
    let doc = w.finish();
    assert!(doc.contains("<e/>"), "{doc}");
    let back = parse(doc.as_bytes(), &Limits::FORM).unwrap();
    assert_eq!(back.attr("a"), Some("x\"<&>\n\t"));
    assert_eq!(back.child("t").unwrap().text, "a < b & c > d\r\n");
    let label = back.child("label").unwrap();
    assert_eq!(label.text, "住户 ");
    assert_eq!(
        label.child("output").unwrap().attr("value"),
        Some("/data/a < 2")
    );
}
