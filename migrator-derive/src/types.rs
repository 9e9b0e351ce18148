//! What the derive can tell about a field's type from its syntax alone.

use syn::{GenericArgument, PathArguments, Type};

/// Looks through invisible groups and parentheses that macros leave around types.
pub fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        other => other,
    }
}

/// The last path segment's name and its single type argument: `Option<T>` -> (`Option`, `T`).
fn single_arg(ty: &Type) -> Option<(String, Option<&Type>)> {
    let Type::Path(path) = peel(ty) else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    let arg = match &last.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match args.args.first() {
            Some(GenericArgument::Type(t)) => Some(t),
            _ => None,
        },
        _ => None,
    };
    Some((last.ident.to_string(), arg))
}

/// `T` of `Option<T>`.
pub fn option_inner(ty: &Type) -> Option<&Type> {
    match single_arg(ty)? {
        (name, arg) if name == "Option" => arg,
        _ => None,
    }
}

/// `T` of `Vec<T>`.
pub fn vec_inner(ty: &Type) -> Option<&Type> {
    match single_arg(ty)? {
        (name, arg) if name == "Vec" => arg,
        _ => None,
    }
}

/// `T` of `Vec<T>` or of `Option<Vec<T>>`, and whether it was the latter.
pub fn array_element(ty: &Type) -> Option<(&Type, bool)> {
    match option_inner(ty) {
        Some(inner) => vec_inner(inner).map(|t| (t, true)),
        None => vec_inner(ty).map(|t| (t, false)),
    }
}

/// Whether the type is spelled `ObjectId` (with any path before it).
pub fn is_object_id(ty: &Type) -> bool {
    matches!(single_arg(ty), Some((name, None)) if name == "ObjectId")
}

/// The last identifier of a path, as written (`crate::models::User` -> `User`).
pub fn last_ident(path: &syn::Path) -> String {
    path.segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> Type {
        syn::parse_str(text).expect("test types parse")
    }

    #[test]
    fn shapes_are_read_from_syntax() {
        assert!(option_inner(&ty("Option<String>")).is_some());
        assert!(option_inner(&ty("std::option::Option<i32>")).is_some());
        assert!(option_inner(&ty("Vec<String>")).is_none());
        assert!(vec_inner(&ty("Vec<ObjectId>")).is_some());
        assert_eq!(
            array_element(&ty("Option<Vec<Review>>")).map(|(_, opt)| opt),
            Some(true)
        );
        assert_eq!(
            array_element(&ty("Vec<Review>")).map(|(_, opt)| opt),
            Some(false)
        );
        assert!(array_element(&ty("Option<Review>")).is_none());
        assert!(is_object_id(&ty("bson::oid::ObjectId")));
        assert!(!is_object_id(&ty("Option<ObjectId>")));
    }
}
