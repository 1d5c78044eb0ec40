-- init_md5: the md5 of $1, to compare what init would install with what it installed.
SELECT md5($1);
