/** DI token of the admin module's options. */
export const OVERSYNC_ADMIN_OPTIONS = Symbol('OVERSYNC_ADMIN_OPTIONS');

/** Largest page of every admin list; the default page is smaller. */
export const ADMIN_MAX_PAGE = 200;
export const ADMIN_DEFAULT_PAGE = 50;
