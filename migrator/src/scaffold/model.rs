//! What `scaffold` writes, before it is text: models, enums and `with` functions, each with the
//! doc comment that explains it.

/// The crate's items.
#[derive(Debug, Clone, Default)]
pub struct Crate {
    /// Each collection's embedded structs (innermost first), then the collection's model.
    pub models: Vec<Model>,
    pub enums: Vec<EnumDef>,
    pub withs: Vec<WithFn>,
}

/// A struct: a collection's model (`collection` set) or an embedded one.
#[derive(Debug, Clone)]
pub struct Model {
    pub collection: Option<String>,
    /// The collection whose documents it reads.
    pub from: String,
    pub ident: String,
    pub docs: Vec<String>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub ident: String,
    /// The key path it reads, as the census names it (`items[].sku`, `address.city`).
    pub source: String,
    pub ty: String,
    /// `#[migrate(..)]` entries, as written.
    pub attrs: Vec<String>,
    pub docs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct EnumDef {
    pub ident: String,
    pub pg_name: String,
    /// (variant, label)
    pub variants: Vec<(String, String)>,
    pub docs: Vec<String>,
}

/// A generated `with` function: a match with one arm per BSON type seen.
#[derive(Debug, Clone)]
pub struct WithFn {
    pub ident: String,
    /// The field's type (what the function returns).
    pub ty: String,
    /// `RawBsonRef::Double(d) => Ok(Some(d)),` ...
    pub arms: Vec<String>,
    pub docs: Vec<String>,
}
