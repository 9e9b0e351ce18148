//! The registry of a schema's models, checked as a whole (references, names, enum types).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bson::RawDocument;

use crate::error::DocumentError;
use crate::model::{ModelDef, PgType, RefTarget};
use crate::sink::adapt::{Adapting, ModelAdapters};
use crate::sink::copy::CopyEncoder;
use crate::transform::{Migrate, RowSink};

type TransformFn = fn(&str, &RawDocument, &mut dyn RowSink) -> Result<(), DocumentError>;
type EncodeFn = fn(&str, &RawDocument, &mut CopyEncoder) -> Result<(), DocumentError>;

fn transform_dyn<T: Migrate>(
    collection: &str,
    doc: &RawDocument,
    mut out: &mut dyn RowSink,
) -> Result<(), DocumentError> {
    crate::transform::transform::<T, _>(collection, doc, &mut out)
}
type KeyFn = fn(&RawDocument) -> Option<String>;

/// The stored key of a document, from its `_id` alone (a document that fails its model has one).
fn key_text<T: Migrate>(doc: &RawDocument) -> Option<String> {
    use crate::id::IdKey;
    use crate::value::FromBson;
    let id = <T::Id as FromBson>::from_bson(doc.get("_id").ok()??).ok()?;
    Some(id.key(T::ID_STRATEGY).to_string())
}

/// One model of a schema: its description and its type-erased transformation.
#[derive(Clone)]
pub struct ModelHandle {
    def: ModelDef,
    transform: TransformFn,
    /// `transform` compiled for the COPY encoder: direct calls all the way down.
    encode: EncodeFn,
    key: KeyFn,
    /// In an existing schema, the adapters of the columns whose type differs from the model's.
    adapters: Option<Arc<ModelAdapters>>,
}

impl std::fmt::Debug for ModelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelHandle")
            .field("collection", &self.def.collection)
            .finish_non_exhaustive()
    }
}

impl ModelHandle {
    pub fn of<T: Migrate>() -> Self {
        ModelHandle {
            def: T::model(),
            transform: transform_dyn::<T>,
            encode: crate::transform::transform::<T, CopyEncoder>,
            key: key_text::<T>,
            adapters: None,
        }
    }

    pub fn def(&self) -> &ModelDef {
        &self.def
    }

    pub fn collection(&self) -> &str {
        &self.def.collection
    }

    /// The stored primary key of a document as PostgreSQL prints it, if the document decodes.
    pub fn key_text(&self, doc: &RawDocument) -> Option<String> {
        (self.key)(doc)
    }

    /// Decodes `doc` and writes its rows to `out`; nothing is written when it fails.
    pub fn transform(&self, doc: &RawDocument, out: &mut dyn RowSink) -> Result<(), DocumentError> {
        match &self.adapters {
            None => (self.transform)(&self.def.collection, doc, out),
            Some(adapters) => self.adapted(doc, &mut Adapting::new(out, adapters)),
        }
    }

    /// [`ModelHandle::transform`] into COPY payloads: what a load runs.
    pub fn encode(&self, doc: &RawDocument, out: &mut CopyEncoder) -> Result<(), DocumentError> {
        match &self.adapters {
            None => (self.encode)(&self.def.collection, doc, out),
            Some(adapters) => self.adapted(doc, &mut Adapting::new(out, adapters)),
        }
    }

    /// Transforms through the adapters: a value one refuses rejects the document, naming the
    /// field (every refused field of the document).
    fn adapted<S: RowSink + ?Sized>(
        &self,
        doc: &RawDocument,
        out: &mut Adapting<'_, S>,
    ) -> Result<(), DocumentError> {
        (self.transform)(&self.def.collection, doc, out)?;
        match out.failure() {
            None => Ok(()),
            Some(error) => {
                out.abandon_document();
                Err(DocumentError {
                    collection: self.def.collection.clone(),
                    id: crate::transform::describe_id(doc),
                    error,
                })
            }
        }
    }

    /// The same model writing through `adapters` into an existing schema's columns.
    pub fn with_adapters(&self, adapters: Option<Arc<ModelAdapters>>) -> ModelHandle {
        ModelHandle {
            adapters,
            ..self.clone()
        }
    }
}

/// A schema that is not consistent as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    #[error("collection `{0}` is declared by more than one model")]
    DuplicateCollection(String),
    #[error("table `{table}` is written by both `{first}` and `{second}`")]
    DuplicateTable {
        table: String,
        first: String,
        second: String,
    },
    #[error("`{model}.{column}` references `{target}`, which is not in the schema")]
    UnknownTarget {
        model: String,
        column: String,
        target: String,
    },
    #[error("`{model}.{column}` references `{target}.{key}`, which has no column `{key}`")]
    UnknownKey {
        model: String,
        column: String,
        target: String,
        key: String,
    },
    /// `reference` reads `Model.column -> Target.key`.
    #[error("`{reference}`: the column is {found} but the target is {expected}")]
    KeyTypeMismatch {
        reference: String,
        expected: String,
        found: String,
    },
    #[error("enum type `{name}` is declared twice with different values")]
    EnumConflict { name: String },
    /// A reference by natural key needs the key unique to get a foreign key.
    #[error(
        "`{reference}`: `{key}` is not unique in `{target}`, so the reference can have no foreign \
         key; declare `#[migrate(unique)]` on that field, or `on_missing = \"keep\"` to keep the \
         values unchecked"
    )]
    NonUniqueKey {
        reference: String,
        target: String,
        key: String,
    },
}

/// A reference resolved to its target table and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTarget<'a> {
    pub table: &'a str,
    pub column: &'a str,
    /// Whether the target column is a primary or unique key, so a foreign-key constraint can exist.
    pub enforceable: bool,
}

/// All models of an application, checked together.
#[derive(Debug, Clone)]
pub struct Schema {
    models: Vec<ModelHandle>,
}

/// Builds a [`Schema`] from model types: `migrator::schema![User, Post, Comment]`.
#[macro_export]
macro_rules! schema {
    ($($model:ty),* $(,)?) => {
        $crate::schema::Schema::new(::std::vec![$($crate::schema::ModelHandle::of::<$model>()),*])
    };
}

impl Schema {
    /// Declares the collections that may be absent from the source (`--absent-ok`), like
    /// `#[migrate(optional)]` does; names no model's collection: that name is the error.
    pub fn allow_absent(&mut self, collections: &[String]) -> Result<(), String> {
        for name in collections {
            let model = self
                .models
                .iter_mut()
                .find(|m| m.def.collection == *name)
                .ok_or_else(|| {
                    format!("`{name}` is not a collection of the schema (--absent-ok)")
                })?;
            model.def.may_be_absent = true;
        }
        Ok(())
    }

    /// Checks the models as a whole: unique collections and tables, resolvable references with
    /// matching types, consistent enum types.
    pub fn new(models: Vec<ModelHandle>) -> Result<Schema, SchemaError> {
        let schema = Schema { models };
        schema.check()?;
        Ok(schema)
    }

    /// The same schema writing through the adapters an existing schema needs (by collection).
    pub fn adapted(&self, adapters: &BTreeMap<String, Arc<ModelAdapters>>) -> Schema {
        Schema {
            models: self
                .models
                .iter()
                .map(|m| m.with_adapters(adapters.get(m.collection()).cloned()))
                .collect(),
        }
    }

    pub fn models(&self) -> &[ModelHandle] {
        &self.models
    }

    pub fn model(&self, collection: &str) -> Option<&ModelHandle> {
        self.models.iter().find(|m| m.collection() == collection)
    }

    fn model_by_type(&self, type_id: std::any::TypeId) -> Option<&ModelDef> {
        self.models
            .iter()
            .map(ModelHandle::def)
            .find(|d| d.type_id == type_id)
    }

    /// The table and column a reference of `model` points at.
    pub fn resolve<'a>(
        &'a self,
        model: &'a ModelDef,
        target: &'a RefTarget,
    ) -> Option<ResolvedTarget<'a>> {
        match target {
            RefTarget::Table(index) => {
                let table = model.tables.get(*index)?;
                Some(ResolvedTarget {
                    table: &table.name,
                    column: table.primary_key.first()?,
                    enforceable: true,
                })
            }
            RefTarget::Model { type_id, key, .. } => {
                let def = self.model_by_type(*type_id)?;
                let table = def.table();
                let column = match key {
                    Some(k) => table.column(k)?.name.as_str(),
                    None => table.primary_key.first()?.as_str(),
                };
                Some(ResolvedTarget {
                    table: &table.name,
                    column,
                    enforceable: table.is_unique_key(&[column]),
                })
            }
        }
    }

    /// Every enum type the schema's columns use, by name.
    pub fn enum_types(&self) -> BTreeMap<&'static str, &crate::model::EnumDef> {
        let mut out = BTreeMap::new();
        for def in self.models.iter().map(ModelHandle::def) {
            for table in &def.tables {
                for col in &table.columns {
                    if let Some(e) = enum_of(&col.ty) {
                        out.entry(e.name).or_insert(e);
                    }
                }
            }
        }
        out
    }

    fn check(&self) -> Result<(), SchemaError> {
        let mut collections = HashMap::new();
        let mut tables: HashMap<&str, &str> = HashMap::new();
        let mut enums: HashMap<&str, &crate::model::EnumDef> = HashMap::new();
        for def in self.models.iter().map(ModelHandle::def) {
            if collections.insert(def.collection.as_str(), ()).is_some() {
                return Err(SchemaError::DuplicateCollection(def.collection.clone()));
            }
            for table in &def.tables {
                if let Some(first) = tables.insert(&table.name, def.rust_name) {
                    return Err(SchemaError::DuplicateTable {
                        table: table.name.clone(),
                        first: first.to_string(),
                        second: def.rust_name.to_string(),
                    });
                }
                for col in &table.columns {
                    if let Some(e) = enum_of(&col.ty) {
                        if let Some(prev) = enums.insert(e.name, e) {
                            if prev != e {
                                return Err(SchemaError::EnumConflict {
                                    name: e.name.to_string(),
                                });
                            }
                        }
                    }
                }
            }
        }
        for def in self.models.iter().map(ModelHandle::def) {
            for table in &def.tables {
                for reference in &table.references {
                    self.check_reference(def, table, reference)?;
                }
            }
        }
        Ok(())
    }

    fn check_reference(
        &self,
        def: &ModelDef,
        table: &crate::model::TableDef,
        reference: &crate::model::ReferenceDef,
    ) -> Result<(), SchemaError> {
        let RefTarget::Model {
            rust_name,
            type_id,
            key,
            ..
        } = &reference.target
        else {
            return Ok(());
        };
        let Some(target) = self.model_by_type(*type_id) else {
            return Err(SchemaError::UnknownTarget {
                model: def.rust_name.to_string(),
                column: reference.column.clone(),
                target: rust_name.to_string(),
            });
        };
        let target_table = target.table();
        let key_name = match key {
            Some(k) => k.clone(),
            None => target_table
                .primary_key
                .first()
                .cloned()
                .unwrap_or_default(),
        };
        let Some(target_col) = target_table.column(&key_name) else {
            return Err(SchemaError::UnknownKey {
                model: def.rust_name.to_string(),
                column: reference.column.clone(),
                target: rust_name.to_string(),
                key: key_name,
            });
        };
        if reference.on_missing != crate::model::MissingPolicy::Keep
            && !target_table.is_unique_key(&[key_name.as_str()])
        {
            return Err(SchemaError::NonUniqueKey {
                reference: format!("{}.{}", def.rust_name, reference.column),
                target: target_table.name.clone(),
                key: key_name,
            });
        }
        let Some(col) = table.column(&reference.column) else {
            return Ok(());
        };
        let found = element_type(&col.ty);
        if found != &target_col.ty {
            return Err(SchemaError::KeyTypeMismatch {
                reference: format!(
                    "{}.{} -> {rust_name}.{key_name}",
                    def.rust_name, reference.column
                ),
                expected: target_col.ty.sql(),
                found: found.sql(),
            });
        }
        Ok(())
    }
}

fn element_type(ty: &PgType) -> &PgType {
    match ty {
        PgType::Array(inner) => inner,
        other => other,
    }
}

fn enum_of(ty: &PgType) -> Option<&crate::model::EnumDef> {
    match ty {
        PgType::Enum(e) => Some(e),
        PgType::Array(inner) => enum_of(inner),
        _ => None,
    }
}
