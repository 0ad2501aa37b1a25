# One line per shader variant: vkg_shader(NAME SOURCE [DEFINES ...]).
vkg_shader(fill_u32 fill.comp)
vkg_shader(copy_add_u32 copy_add.comp)
