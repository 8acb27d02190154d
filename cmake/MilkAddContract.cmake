# milk_add_contract(<target> CONTRACTS a.contract ...): placeholder, see issue 2 §6.
function(milk_add_contract target)
endfunction()
