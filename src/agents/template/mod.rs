//! The template runner: renders template packs (embedded under templates/, plus a
//! repository's own `.prflow/templates/`).
