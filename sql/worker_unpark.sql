-- worker_unpark: table $1 can be re-read again; forget its parking.
DELETE FROM @schema@.parked WHERE tbl = $1
