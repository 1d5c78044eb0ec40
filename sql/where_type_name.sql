-- where_type_name: the SQL name of a type, by oid, for an error message.
SELECT format_type($1::oid, NULL)
