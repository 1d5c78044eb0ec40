DELETE FROM @schema@.tables WHERE tbl = @tbl@;
