-- render_interval: an interval as an ISO 8601 duration ("P1Y2M3DT4H5M6.5S", "PT0S" for zero),
-- whatever the session's IntervalStyle. Components keep PostgreSQL's own split (months, days,
-- time are not converted into each other); a negative component keeps its sign, as
-- IntervalStyle iso_8601 prints it. @v@: the value expression.
CASE WHEN @v@ IS NULL THEN NULL ELSE
  COALESCE(NULLIF(regexp_replace(concat('P',
      NULLIF(extract(year FROM @v@), 0) || 'Y',
      NULLIF(extract(month FROM @v@), 0) || 'M',
      NULLIF(extract(day FROM @v@), 0) || 'D',
      'T',
      NULLIF(extract(hour FROM @v@), 0) || 'H',
      NULLIF(extract(minute FROM @v@), 0) || 'M',
      NULLIF(trim_scale(extract(second FROM @v@)::numeric), 0) || 'S'), 'T$', ''), 'P'), 'PT0S')
END
