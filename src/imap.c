/* placeholder: being written */
typedef int mb_placeholder_imap;
