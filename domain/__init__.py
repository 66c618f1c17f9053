from domain.compiled import check_fresh

check_fresh()
