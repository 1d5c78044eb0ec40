-- render_time_clamp: a timestamp, timestamptz or date with infinity as 9999-12-31 and
-- -infinity as 0001-01-02, both at midnight UTC: the ends of the four-digit years a date field
-- parses, a day inside them so that no session time zone turns a timestamptz into a
-- five-digit or BC year. @v@: the value expression.
CASE WHEN isfinite(@v@) OR @v@ IS NULL THEN @v@
     WHEN @v@ > '2000-01-01' THEN '9999-12-31 00:00:00+00'
     ELSE '0001-01-02 00:00:00+00' END
