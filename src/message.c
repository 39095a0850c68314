/* placeholder: being written */
typedef int mb_placeholder_message;
