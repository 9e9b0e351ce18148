//! Derived enums: the labels they read and the PostgreSQL type they describe.

use migrator::model::{EnumDef, EnumRepr};
use migrator::{Cell, FieldErrorKind, FromBson, PgType, PgValue};

use super::{Role, Status};

#[test]
fn enums_read_labels_and_describe_their_type() {
    let value = |s: &str| migrator::bson::RawBson::String(s.to_string());
    assert_eq!(
        Role::from_bson(value("read-only").as_raw_bson_ref()),
        Ok(Role::ReadOnly)
    );
    assert_eq!(
        Role::from_bson(value("admin").as_raw_bson_ref()),
        Ok(Role::Admin)
    );
    let e = Role::from_bson(value("Admin").as_raw_bson_ref()).expect_err("labels are exact");
    assert_eq!(
        e.kind(),
        &FieldErrorKind::NotInEnum {
            value: "Admin".into(),
            expected: &["admin", "member", "read-only"],
        }
    );
    let e = Role::from_bson(migrator::bson::RawBson::Int32(1).as_raw_bson_ref())
        .expect_err("not a string");
    assert_eq!(e.to_string(), "expected string, found int32 1");
    assert_eq!(
        Role::column_type(),
        (
            PgType::Enum(EnumDef {
                name: "role",
                values: &["admin", "member", "read-only"],
                repr: EnumRepr::Native,
            }),
            false
        )
    );
    assert_eq!(Role::Member.to_cell(), Cell::Enum("member".into()));
    let mut buf = Vec::new();
    Role::Member.encode(&mut buf);
    assert_eq!(buf, b"\0\0\0\x06member");
    let (ty, _) = Status::column_type();
    assert_eq!(ty.sql(), "text");
    assert_eq!(<Vec<Status>>::column_type().0.sql(), "text[]");
}
