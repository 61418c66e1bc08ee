/* ctormain.c -- a program linked with libctor.so (DT_NEEDED), whose constructor runs first */
#include <stdio.h>
int main(void)
{
	printf("main\n");
	return 0;
}
