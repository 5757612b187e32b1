// Placeholder: the checks for this part of the console come with its pages.
export default async function spec() {}
