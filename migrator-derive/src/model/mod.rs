//! The derive's view of the input: what each struct, field and enum becomes.
//!
//! [`build`] reads the syntax and the attributes. Attribute combinations that make no sense for a
//! field are rejected by `check::field` before the field is modelled, so the model only holds
//! fields whose meaning is clear; rules about the whole model run afterwards (`check::model`).

use heck::ToSnakeCase;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{self, Attrs};
use crate::check;
use crate::ctxt::Ctxt;
use crate::naming::{self, Naming};
use crate::symbol::{self, Symbol};
use crate::types;

mod enums;

use enums::build_enum;
pub use enums::Enum;

/// The one naming rule from Rust and MongoDB names to PostgreSQL names (as `migrator::naming`).
pub fn pg_name(name: &str) -> String {
    name.to_snake_case()
}

/// What the input becomes.
#[derive(Debug)]
pub enum Input<'a> {
    Struct(Struct<'a>),
    Enum(Enum<'a>),
}

/// What the derive generates, known from the syntax alone even when the input has errors (so
/// the stub emitted on error implements the right traits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Collection,
    Embedded,
    Enum,
}

impl Intent {
    pub fn of(input: &DeriveInput) -> Intent {
        match &input.data {
            Data::Enum(_) => Intent::Enum,
            _ if attr::mentions(&input.attrs, symbol::EMBEDDED) => Intent::Embedded,
            _ => Intent::Collection,
        }
    }
}

/// A struct with named fields: a collection or an embedded (child table) struct.
#[derive(Debug)]
pub struct Struct<'a> {
    pub ident: &'a Ident,
    pub kind: StructKind,
    pub unknown_fields: UnknownFields,
    /// `#[migrate(optional)]`: the collection may be absent from the source (then empty).
    pub may_be_absent: bool,
    pub fields: Vec<Field<'a>>,
    /// `skip` fields: set to their default; their document keys are accepted under `reject`.
    pub skipped: Vec<Skipped<'a>>,
    /// `ignore = [..]`: keys (or dotted paths below them) the model drops on purpose.
    pub ignored: Vec<String>,
    /// Whether an id field was left out of the model because its attributes were rejected
    /// (so its absence is not reported again).
    pub rejected_id: bool,
}

#[derive(Debug)]
pub struct Skipped<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    pub key: String,
}

#[derive(Debug)]
pub enum StructKind {
    Collection { collection: String, table: String },
    Embedded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFields {
    /// No `unknown_fields`: undeclared keys are dropped, and reported as dropped.
    Report,
    Ignore,
    Reject,
}

/// One field that is read from the document.
#[derive(Debug)]
pub struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    /// The document path, dotted (`_id` for the id field, `author.handle` for a nested path).
    pub key: String,
    /// The column in the struct's own table; for junction and child fields, the name their
    /// default table name is made from.
    pub column: String,
    pub kind: FieldKind<'a>,
    /// Where messages about the field point: the key that gave its role, else its name.
    pub span: Span,
    /// Where messages about its document key point: `rename`, else the field name.
    pub key_span: Span,
    /// Where messages about its column point: `column`, else the field name.
    pub column_span: Span,
}

#[derive(Debug)]
pub enum FieldKind<'a> {
    Id { strategy: Strategy },
    Value(Value<'a>),
    Junction(Junction<'a>),
    Child(Child<'a>),
    Flatten(Flatten<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Ordered,
    V5,
    Keep,
}

/// A field stored in a column of the struct's own table.
#[derive(Debug)]
pub struct Value<'a> {
    pub default: Option<DefaultValue>,
    pub with: Option<syn::Path>,
    pub storage: Storage<'a>,
    /// Whether the field type is spelled `Option<..>`.
    pub optional: bool,
    pub unique: bool,
    pub index: bool,
    /// `dimensions = N`: the length a vector field must have.
    pub dimensions: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum DefaultValue {
    /// `Default::default()`.
    Trait,
    /// A function called with no arguments.
    Path(syn::Path),
}

#[derive(Debug)]
pub enum Storage<'a> {
    /// The type's own `PgValue`.
    Native,
    /// serde, as jsonb.
    Jsonb,
    /// ObjectIds as hex text.
    AsText,
    /// A foreign key.
    Reference(Reference<'a>),
}

#[derive(Debug)]
pub struct Reference<'a> {
    pub target: syn::Path,
    /// `Some(column)`: a natural key of the target; `None`: its primary key.
    pub key: Option<String>,
    pub on_missing: OnMissing,
    /// The referencing type without `Option`/`Vec` around it.
    pub elem: &'a Type,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMissing {
    Reject,
    Null,
    Skip,
    Keep,
}

/// An array of references stored as rows of a junction table.
#[derive(Debug)]
pub struct Junction<'a> {
    /// The table name; `None`: `{owner table}_{column}`.
    pub table: Option<String>,
    pub reference: Reference<'a>,
    pub owner_column: String,
    pub target_column: String,
    pub position: bool,
    pub default: Option<DefaultValue>,
    /// Prisma's implicit many-to-many table: its key is (`A`, `B`), `B` indexed.
    pub implicit: bool,
    /// `with = path`: reads the whole array (the field's type) from the raw value.
    pub with: Option<syn::Path>,
}

/// An array of embedded structs stored as rows of a child table.
#[derive(Debug)]
pub struct Child<'a> {
    /// The table name; `None`: `{parent table}_{column}`.
    pub table: Option<String>,
    pub elem: &'a Type,
    pub parent_column: String,
    pub default: Option<DefaultValue>,
    /// `with = path`: reads the whole array (the field's type) from the raw value.
    pub with: Option<syn::Path>,
}

/// A subdocument whose embedded struct's columns are stored in the parent's own table.
#[derive(Debug)]
pub struct Flatten<'a> {
    /// What the struct's column names are prefixed with (default: `{column}_`).
    pub prefix: String,
    /// The embedded struct, without `Option` around it.
    pub elem: &'a Type,
}

/// What a field's attributes make it, before checking they fit together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Skip,
    Id,
    Child,
    Junction,
    Flatten,
    Value,
}

impl Role {
    pub fn of(attrs: &Attrs) -> Role {
        if attrs.has(symbol::SKIP) {
            Role::Skip
        } else if attrs.has(symbol::ID) {
            Role::Id
        } else if attrs.has(symbol::CHILD) {
            Role::Child
        } else if attrs.has(symbol::JUNCTION) {
            Role::Junction
        } else if attrs.has(symbol::FLATTEN) {
            Role::Flatten
        } else {
            Role::Value
        }
    }

    /// The key that gave the role, for messages.
    pub fn key(self) -> Option<Symbol> {
        match self {
            Role::Skip => Some(symbol::SKIP),
            Role::Id => Some(symbol::ID),
            Role::Child => Some(symbol::CHILD),
            Role::Junction => Some(symbol::JUNCTION),
            Role::Flatten => Some(symbol::FLATTEN),
            Role::Value => None,
        }
    }
}

/// Reads the input; `None` when it is not something the derive can model at all.
pub fn build<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<Input<'a>> {
    check::generics(cx, input);
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => Some(Input::Struct(build_struct(cx, input, fields))),
            Fields::Unnamed(_) | Fields::Unit => {
                cx.error_spanned_by(
                    &input.ident,
                    "`Migrate` needs a struct with named fields; tuple and unit structs have no document keys",
                );
                None
            }
        },
        Data::Enum(data) => build_enum(cx, input, data).map(Input::Enum),
        Data::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                "`Migrate` cannot be derived for a union; use a struct with named fields or a fieldless enum",
            );
            None
        }
    }
}

fn build_struct<'a>(cx: &Ctxt, input: &'a DeriveInput, fields: &'a syn::FieldsNamed) -> Struct<'a> {
    let attrs = Attrs::parse(cx, &input.attrs, symbol::STRUCT_KEYS);
    let embedded = attrs.has(symbol::EMBEDDED);
    check::container(cx, &attrs, embedded);
    let naming = Naming::of(&attrs);
    let kind = if embedded {
        StructKind::Embedded
    } else {
        let collection = attrs
            .string(symbol::COLLECTION)
            .map(|s| s.value)
            .unwrap_or_else(|| input.ident.unraw().to_string().to_snake_case());
        let table = attrs.string(symbol::TABLE).map_or_else(
            || naming.table(&input.ident.unraw().to_string(), &collection),
            |s| s.value,
        );
        StructKind::Collection { collection, table }
    };
    let unknown_fields = match attrs.string(symbol::UNKNOWN_FIELDS) {
        Some(s) if s.value == "reject" => UnknownFields::Reject,
        Some(_) => UnknownFields::Ignore,
        None => UnknownFields::Report,
    };
    let ignored = attrs.strings(symbol::IGNORE);
    let rename_all = attrs.rename_all();
    let owner = Owner {
        snake: input.ident.unraw().to_string().to_snake_case(),
        model: input.ident.unraw().to_string(),
    };

    let mut out = Struct {
        ident: &input.ident,
        kind,
        unknown_fields,
        may_be_absent: attrs.has(symbol::OPTIONAL),
        fields: Vec::new(),
        skipped: Vec::new(),
        ignored: ignored.iter().map(|s| s.value.clone()).collect(),
        rejected_id: false,
    };
    for field in &fields.named {
        let Some(ident) = &field.ident else { continue };
        let attrs = Attrs::parse(cx, &field.attrs, symbol::FIELD_KEYS);
        let role = Role::of(&attrs);
        let name = ident.unraw().to_string();
        let key = attrs
            .string(symbol::PATH)
            .map(|p| p.value)
            .or_else(|| attrs.rename())
            .unwrap_or_else(|| {
                rename_all.map_or_else(|| name.clone(), |r| r.apply_to_field(&name))
            });
        check::dotted_key(cx, &attrs);
        check::path(cx, &attrs);
        if !check::field(cx, field, &attrs, role) {
            out.rejected_id |= role == Role::Id;
            continue;
        }
        if role == Role::Skip {
            out.skipped.push(Skipped {
                ident,
                ty: &field.ty,
                key,
            });
            continue;
        }
        if let Some(kind) = field_kind(&attrs, role, &field.ty, &owner, &naming.column(&name)) {
            let column = match role {
                Role::Id => attrs
                    .string(symbol::COLUMN)
                    .map_or_else(|| "id".to_string(), |s| s.value),
                _ => attrs
                    .string(symbol::COLUMN)
                    .map_or_else(|| naming.column(&name), |s| s.value),
            };
            let key = if role == Role::Id {
                "_id".to_string()
            } else {
                key
            };
            let span = role
                .key()
                .and_then(|k| attrs.span(k))
                .unwrap_or_else(|| ident.span());
            out.fields.push(Field {
                ident,
                ty: &field.ty,
                key,
                column,
                kind,
                span,
                key_span: attrs
                    .string(symbol::PATH)
                    .map(|p| p.span)
                    .or_else(|| attrs.span(symbol::RENAME))
                    .or_else(|| attrs.serde_rename.as_ref().map(|s| s.span))
                    .unwrap_or_else(|| ident.span()),
                column_span: attrs.span(symbol::COLUMN).unwrap_or_else(|| ident.span()),
            });
        }
    }
    check::ignored(cx, &out, &ignored);
    out
}

/// The field's meaning; `None` only for combinations `check::field` has already rejected.
/// The struct a field belongs to: its name in snake_case (default junction columns) and as
/// written (the Prisma model name of implicit junctions).
struct Owner {
    snake: String,
    model: String,
}

fn field_kind<'a>(
    attrs: &Attrs,
    role: Role,
    ty: &'a Type,
    owner: &Owner,
    // The field's default column name, which a flattened struct's prefix is made from.
    column_name: &str,
) -> Option<FieldKind<'a>> {
    let default = default_value(attrs);
    Some(match role {
        Role::Skip => return None,
        Role::Id => FieldKind::Id {
            strategy: match attrs
                .string(symbol::STRATEGY)
                .as_ref()
                .map(|s| s.value.as_str())
            {
                Some("ordered") => Strategy::Ordered,
                Some("v5") => Strategy::V5,
                Some(_) => Strategy::Keep,
                None if types::is_object_id(ty) => Strategy::Ordered,
                None => Strategy::Keep,
            },
        },
        Role::Child => {
            let (elem, _) = types::array_element(ty)?;
            FieldKind::Child(Child {
                table: attrs.string(symbol::CHILD).map(|s| s.value),
                elem,
                parent_column: attrs
                    .string(symbol::PARENT_COLUMN)
                    .map_or_else(|| "parent_id".to_string(), |s| s.value),
                default,
                with: attrs.path(symbol::WITH).cloned(),
            })
        }
        Role::Junction => {
            let (elem, _) = types::array_element(ty)?;
            let reference = reference(attrs, elem)?;
            let target_column = attrs.string(symbol::TARGET_COLUMN).map_or_else(
                || {
                    format!(
                        "{}_id",
                        types::last_ident(&reference.target).to_snake_case()
                    )
                },
                |s| s.value,
            );
            if attrs.has(symbol::IMPLICIT) {
                let target = types::last_ident(&reference.target);
                let (table, owner_column, target_column) =
                    naming::implicit_junction(&owner.model, &target);
                return Some(FieldKind::Junction(Junction {
                    table: Some(table),
                    reference,
                    owner_column,
                    target_column,
                    position: false,
                    default,
                    implicit: true,
                    with: attrs.path(symbol::WITH).cloned(),
                }));
            }
            FieldKind::Junction(Junction {
                table: attrs.string(symbol::JUNCTION).map(|s| s.value),
                reference,
                owner_column: attrs
                    .string(symbol::OWNER_COLUMN)
                    .map_or_else(|| format!("{}_id", owner.snake), |s| s.value),
                target_column,
                position: attrs.has(symbol::POSITION),
                default,
                implicit: false,
                with: attrs.path(symbol::WITH).cloned(),
            })
        }
        Role::Flatten => FieldKind::Flatten(Flatten {
            prefix: attrs
                .string(symbol::FLATTEN)
                .map_or_else(|| format!("{column_name}_"), |s| s.value),
            elem: types::option_inner(ty).unwrap_or(ty),
        }),
        Role::Value => {
            let optional = types::option_inner(ty).is_some();
            let storage = if attrs.has(symbol::REFERENCES) {
                Storage::Reference(reference(attrs, types::option_inner(ty).unwrap_or(ty))?)
            } else if attrs.has(symbol::JSONB) {
                Storage::Jsonb
            } else if attrs.has(symbol::AS_TEXT) {
                Storage::AsText
            } else {
                Storage::Native
            };
            FieldKind::Value(Value {
                default,
                with: attrs.path(symbol::WITH).cloned(),
                storage,
                optional,
                unique: attrs.has(symbol::UNIQUE),
                index: attrs.has(symbol::INDEX),
                dimensions: attrs.int(symbol::DIMENSIONS),
            })
        }
    })
}

fn default_value(attrs: &Attrs) -> Option<DefaultValue> {
    if !attrs.has(symbol::DEFAULT) {
        return None;
    }
    Some(match attrs.path(symbol::DEFAULT) {
        Some(path) => DefaultValue::Path(path.clone()),
        None => DefaultValue::Trait,
    })
}

fn reference<'a>(attrs: &Attrs, elem: &'a Type) -> Option<Reference<'a>> {
    Some(Reference {
        target: attrs.path(symbol::REFERENCES)?.clone(),
        key: attrs.string(symbol::KEY).map(|s| s.value),
        on_missing: match attrs
            .string(symbol::ON_MISSING)
            .as_ref()
            .map(|s| s.value.as_str())
        {
            Some("null") => OnMissing::Null,
            Some("skip") => OnMissing::Skip,
            Some("keep") => OnMissing::Keep,
            _ => OnMissing::Reject,
        },
        elem,
    })
}

impl<'a> Struct<'a> {
    pub fn is_embedded(&self) -> bool {
        matches!(self.kind, StructKind::Embedded)
    }

    pub fn id(&self) -> Option<&Field<'a>> {
        self.fields
            .iter()
            .find(|f| matches!(f.kind, FieldKind::Id { .. }))
    }

    /// Fields stored in the struct's own table (values and flattened structs), in column order.
    pub fn columns(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Value(_) | FieldKind::Flatten(_)))
    }

    /// Whether a field flattens an embedded struct into the own table.
    pub fn has_flatten(&self) -> bool {
        self.fields
            .iter()
            .any(|f| matches!(f.kind, FieldKind::Flatten(_)))
    }

    /// Fields that write their own tables (junctions and children), in declaration order.
    pub fn table_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Junction(_) | FieldKind::Child(_)))
    }
}

impl Field<'_> {
    /// The span used for messages and where-bounds about this field's type.
    pub fn ty_span(&self) -> Span {
        self.ty.span()
    }
}
