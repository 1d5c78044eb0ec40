-- render_money: a money value as a JSON number (its numeric value; money's text carries the
-- currency symbol and digit grouping of lc_monetary). @v@: the value expression.
(@v@)::numeric
