"""The secretary's quarterly dossier: the cases of a scope and period as XLSX, a photo archive, and the
administrative documents (DOCX and PDF) drawn from replaceable templates."""
